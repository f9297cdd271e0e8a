//! Name validation: a name that passes is stable (validating it again changes nothing),
//! holds no refused character, fits the limit, and reads back as a name (never as an id or
//! a UUID); its fold is computed without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_shared::model::KeyRef;
use veil_shared::validate;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let _ = validate::note(raw);
    let _ = validate::prefix(raw);
    let _ = validate::key_ref(raw);
    let Ok(name) = validate::name(raw) else {
        return;
    };
    assert_eq!(validate::name(&name).as_ref(), Ok(&name));
    assert!(!name.chars().any(validate::refused_char));
    assert!(name.chars().count() <= validate::NAME_MAX_CHARS);
    assert_eq!(validate::key_ref(&name), Ok(KeyRef::Name(name.clone())));
    let _ = validate::name_fold(&name);
});
