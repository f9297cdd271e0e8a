//! `veil key …`: create, list, show, change and delete keys.

use veil_shared::api::{
    KeyCreateBulk, KeyDelete, KeyDisable, KeyEnable, KeyGet, KeyList, KeyRotate, KeyUpdate,
};
use veil_shared::model::KeyRef;

use super::share;
use crate::cli::key::{AddArgs, KeyCommand, ListArgs};
use crate::failure::Failure;
use crate::output::key::{self as out, Change};
use crate::session::{Reply, Session};

pub async fn run(session: &mut Session<'_>, cmd: KeyCommand) -> Result<Reply, Failure> {
    let (raw, key, change) = match cmd {
        KeyCommand::Add(args) => return add(session, args).await,
        KeyCommand::List(args) => return list(session, args).await,
        KeyCommand::Show(arg) => {
            let (raw, key) = session.call(KeyGet { key: arg.key }).await?;
            let human = out::key_block(&key);
            return Ok(Reply { raw, human });
        }
        KeyCommand::Rename { key, name } => {
            let (raw, key) = session.call(rename(key, name)).await?;
            (raw, key, Change::Renamed)
        }
        KeyCommand::Note { key, text } => {
            let (raw, key) = session.call(note(key, text)).await?;
            // Judge by what the daemon stored: it trims, so "  " clears too.
            let change = if key.note.is_empty() {
                Change::NoteCleared
            } else {
                Change::NoteSet
            };
            (raw, key, change)
        }
        KeyCommand::Disable(arg) => {
            let (raw, key) = session.call(KeyDisable { key: arg.key }).await?;
            (raw, key, Change::Disabled)
        }
        KeyCommand::Enable(arg) => {
            let (raw, key) = session.call(KeyEnable { key: arg.key }).await?;
            (raw, key, Change::Enabled)
        }
        KeyCommand::Rm(arg) => {
            let (raw, key) = session.call(KeyDelete { key: arg.key }).await?;
            (raw, key, Change::Deleted)
        }
        KeyCommand::Link(arg) => return share::link(session, arg).await,
        KeyCommand::Config(args) => return share::config(session, args).await,
        KeyCommand::Qr(args) => return share::qr(session, args).await,
        KeyCommand::Sub(args) => return share::sub(session, args).await,
        KeyCommand::Rotate(arg) => {
            let (raw, key) = session.call(KeyRotate { key: arg.key }).await?;
            (raw, key, Change::Rotated)
        }
        KeyCommand::Update(args) => {
            let (raw, key) = session.call(args.into_params()).await?;
            (raw, key, Change::Updated)
        }
    };
    let human = out::changed(change, &key);
    Ok(Reply { raw, human })
}

fn rename(key: KeyRef, name: String) -> KeyUpdate {
    KeyUpdate {
        key,
        name: Some(name),
        note: None,
        data_limit: None,
        expires_at: None,
        reset: None,
        nodes: None,
    }
}

fn note(key: KeyRef, text: String) -> KeyUpdate {
    KeyUpdate {
        key,
        name: None,
        note: Some(text),
        data_limit: None,
        expires_at: None,
        reset: None,
        nodes: None,
    }
}

async fn add(session: &mut Session<'_>, args: AddArgs) -> Result<Reply, Failure> {
    if let Some(params) = args.create_params() {
        let (raw, key) = session.call(params).await?;
        let human = out::changed(Change::Created, &key);
        return Ok(Reply { raw, human });
    }
    match (args.count, args.prefix) {
        (Some(count), Some(prefix)) => {
            let params = KeyCreateBulk {
                count,
                prefix: prefix.clone(),
            };
            let (raw, bulk) = session.call(params).await?;
            let human = out::bulk(&prefix, &bulk);
            Ok(Reply { raw, human })
        }
        // clap's rules make this unreachable; say what is wanted rather than panic.
        _ => Err(Failure::Usage(
            "key add needs NAME, or --count N with --prefix P".into(),
        )),
    }
}

async fn list(session: &mut Session<'_>, args: ListArgs) -> Result<Reply, Failure> {
    let offset = args.offset.unwrap_or(0);
    let params = KeyList {
        state: args.state.map(Into::into),
        search: args.search,
        offset: args.offset,
        limit: args.limit,
    };
    let (raw, page) = session.call(params).await?;
    let human = out::key_page(&page, offset);
    Ok(Reply { raw, human })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::Parser;
    use veil::dash::event::Cmd;
    use veil::dash::form::Form;

    use crate::cli::{Cli, Command};

    use super::*;

    /// The `key.create` call `veil key ARGS…` would make.
    fn cli_create(args: &[&str]) -> veil_shared::api::KeyCreate {
        let cli = Cli::try_parse_from(["veil", "key"].iter().chain(args)).unwrap();
        let Some(Command::Key(KeyCommand::Add(add))) = cli.command else {
            panic!("not key add");
        };
        add.create_params().unwrap()
    }

    /// The `key.create` call the dashboard's add form makes for these fields.
    fn form_create(name: &str, limit: &str, expiry: &str, now: i64) -> veil_shared::api::KeyCreate {
        let mut form = Form::add();
        for (field, value) in form.fields.iter_mut().zip([name, limit, expiry]) {
            field.insert(value);
        }
        let Ok(Cmd::Create(create)) = form.build(now) else {
            panic!("the form did not build a create");
        };
        create
    }

    /// The CLI and the dashboard read the same input to the same request: `10GB` is
    /// 10 000 000 000 bytes and `2027-01-31` the last second of that day, UTC.
    #[test]
    fn the_cli_and_the_dashboard_form_send_the_same_create() {
        // The form refuses a past expiry, so it gets a fixed "now" before 2027.
        let now = 1_795_708_980;
        let cli = cli_create(&["add", "x", "--limit", "10GB", "--expires", "2027-01-31"]);
        let form = form_create("x", "10GB", "2027-01-31", now);
        assert_eq!(cli, form);
        assert_eq!(cli.data_limit, Some(10_000_000_000));
        assert_eq!(cli.expires_at, Some(1_801_439_999));
        for (limit, expiry) in [
            ("10GiB", "2027-01-31T18:30"),
            ("1.5 tb", "2027-01-31T18:30:00Z"),
        ] {
            let cli = cli_create(&["add", "x", "--limit", limit, "--expires", expiry]);
            assert_eq!(
                cli,
                form_create("x", limit, expiry, now),
                "{limit} {expiry}"
            );
        }
    }
}
