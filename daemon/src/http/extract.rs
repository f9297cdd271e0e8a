//! Extractors that answer in the API's error shape: a key reference from the path (id,
//! UUID or name, percent-decoded), query parameters, and a JSON body.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;
use veil_shared::model::KeyRef;

use super::error::ApiError;

/// `{ref}` of `/api/keys/{ref}…`: a numeric id, a UUID or a (percent-encoded) name. A
/// segment that cannot name any key (`0`, an id past `i64`) is `404` like an unknown one:
/// the resource does not exist. Bytes that are not UTF-8 are `400`.
pub struct KeyPath(pub KeyRef);

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::bad_request(format!("the key in the path: {}", e.body_text()))
            })?;
        veil_shared::validate::key_ref(&raw)
            .map(KeyPath)
            .map_err(|e| ApiError::not_found(format!("no key is named by the path: {e}")))
    }
}

/// Query parameters read into a socket method's parameters (unknown ones refused).
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// A JSON object body; size over the cap is 413, anything but an object 400.
pub struct Body(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<Value>::from_request(request, state).await {
            Ok(axum::Json(Value::Object(mut map))) => {
                map.values_mut().for_each(whole_numbers);
                Ok(Body(map))
            }
            Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
            Err(rejection) => {
                let status = rejection.status();
                Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(status, "too_large", "the request body is too large")
                } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    ApiError::new(
                        status,
                        "invalid_input",
                        "send the body as JSON (Content-Type: application/json)",
                    )
                } else {
                    ApiError::bad_request(format!(
                        "the body is not valid JSON: {}",
                        rejection.body_text()
                    ))
                })
            }
        }
    }
}

/// JSON does not tell `3` from `3.0` (JSON Schema calls both integers): a number with no
/// fraction that fits an integer is read as that integer.
fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) {
                // The casts saturate; the range checks keep only exact conversions.
                let whole = if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    Some(Value::from(f as u64))
                } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                    Some(Value::from(f as i64))
                } else {
                    None
                };
                if let Some(whole) = whole {
                    *value = whole;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// Reads a method's parameters from a body object (members a method does not know, or of
/// the wrong type, are 422 like the socket's `invalid_input`).
pub fn params<T: DeserializeOwned>(map: serde_json::Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map)).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format!("invalid body: {e}"),
        )
    })
}
