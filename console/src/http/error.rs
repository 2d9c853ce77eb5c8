//! API errors and their one mapping to HTTP. The match over [`ApiError`] has no wildcard:
//! a new variant does not compile until someone decides its status. Clients get the
//! message; the log gets internal causes.

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use super::api::{ErrorBody, ErrorDetail};
use crate::appconfig::ConfigError;
use crate::auth::AuthError;
use crate::certs::CertError;
use crate::license::LicenseError;
use crate::releases::ReleaseError;
use crate::store::StoreError;
use crate::upstream::UpstreamError;

/// Everything an API call can answer besides success.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("Sign in first: there is no session, or it has expired.")]
    Unauthorized,
    #[error("The request is missing the X-CSRF-Token header of this session, or it is wrong.")]
    Csrf,
    #[error("The password is not correct.")]
    InvalidCredentials,
    #[error("Too many failed logins from this address. Try again in {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("No admin password is set yet. Open the setup link the console printed when it started, or run `outpostctl reset-password` on the console host.")]
    SetupRequired,
    #[error("This setup link is not valid: it was already used, replaced by a newer link, or it expired. Run `outpostctl reset-password` on the console host for a new one.")]
    SetupTokenInvalid,
    #[error("{0}")]
    WeakPassword(String),
    #[error("{0} The current certificate stays in use.")]
    InvalidCertificate(String),
    #[error("{0}")]
    LicenseInvalid(String),
    #[error("{0}")]
    LicenseWrongKey(String),
    #[error("{0}")]
    LicenseExpired(String),
    #[error("{0}")]
    LicenseOtherApp(String),
    #[error("{0}")]
    KeyConfirmationRequired(String),
    #[error("{0}")]
    TrustKeyMismatch(String),
    #[error("{message}")]
    JoinRefused { code: &'static str, message: String },
    #[error("This endpoint needs the node's client certificate.")]
    NodeCertificateRequired,
    #[error("{0}")]
    NodeRefused(String),
    #[error("{0}")]
    ConfigInvalid(String),
    #[error("{0}")]
    ReleaseRefused(String),
    #[error("{0}")]
    ReleaseConflict(String),
    #[error("There is no node {0}.")]
    NodeNotFound(String),
    #[error("{0}")]
    NodeUnavailable(String),
    #[error("The node could not do it: {0}")]
    NodeCommandFailed(String),
    #[error("{0}")]
    NoApiHost(String),
    #[error("{0}")]
    ApiHostUnreachable(String),
    #[error("{0}")]
    ApiHostTls(String),
    #[error("{0}")]
    ApiHostRefused(String),
    #[error("{0}")]
    IndexInvalid(String),
    #[error("{0}")]
    DeployInProgress(String),
    #[error("{0}")]
    PreflightFailed(String),
    #[error("{0}")]
    PlanInvalid(String),
    #[error("{0}")]
    DeploymentNotFound(String),
    #[error("{0}")]
    RollbackInvalid(String),
    #[error("{0}")]
    NotDeployed(String),
    #[error("{0}")]
    ContainerNotFound(String),
    #[error("{0}")]
    RegistriesInvalid(String),
    #[error("{0}")]
    AirgapMode(String),
    #[error("{0}")]
    KeyRotationRefused(String),
    #[error("{0}")]
    LicenseRevoked(String),
    #[error("{0}")]
    SettingsInvalid(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("There is no such API route.")]
    NotFound,
    #[error("This route does not accept that method.")]
    MethodNotAllowed,
    #[error("The request body is larger than this route accepts ({limit}).")]
    PayloadTooLarge { limit: &'static str },
    #[error("The request needs a Content-Length header.")]
    LengthRequired,
    #[error("The request body must be JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
    /// The cause is logged where this is built; the client learns only that it failed.
    #[error("The console hit an internal error; the details are in its log.")]
    Internal,
}

impl warp::reject::Reject for ApiError {}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::SetupRequired => (StatusCode::CONFLICT, "setup_required"),
            ApiError::SetupTokenInvalid => (StatusCode::FORBIDDEN, "setup_token_invalid"),
            ApiError::WeakPassword(_) => (StatusCode::BAD_REQUEST, "weak_password"),
            ApiError::InvalidCertificate(_) => (StatusCode::BAD_REQUEST, "invalid_certificate"),
            ApiError::LicenseInvalid(_) => (StatusCode::BAD_REQUEST, "license_invalid"),
            ApiError::LicenseWrongKey(_) => (StatusCode::FORBIDDEN, "license_wrong_key"),
            ApiError::LicenseExpired(_) => (StatusCode::BAD_REQUEST, "license_expired"),
            ApiError::LicenseOtherApp(_) => (StatusCode::CONFLICT, "license_other_app"),
            ApiError::KeyConfirmationRequired(_) => {
                (StatusCode::CONFLICT, "key_confirmation_required")
            }
            ApiError::TrustKeyMismatch(_) => (StatusCode::BAD_REQUEST, "trust_key_mismatch"),
            ApiError::JoinRefused { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NodeCertificateRequired => (StatusCode::UNAUTHORIZED, "certificate_required"),
            ApiError::NodeRefused(_) => (StatusCode::FORBIDDEN, "node_refused"),
            ApiError::ConfigInvalid(_) => (StatusCode::BAD_REQUEST, "config_invalid"),
            ApiError::ReleaseRefused(_) => (StatusCode::BAD_REQUEST, "release_refused"),
            ApiError::ReleaseConflict(_) => (StatusCode::CONFLICT, "release_conflict"),
            ApiError::NodeNotFound(_) => (StatusCode::NOT_FOUND, "node_not_found"),
            ApiError::NodeUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "node_unavailable"),
            ApiError::NodeCommandFailed(_) => (StatusCode::BAD_GATEWAY, "node_command_failed"),
            ApiError::NoApiHost(_) => (StatusCode::CONFLICT, "no_api_host"),
            ApiError::ApiHostUnreachable(_) => (StatusCode::BAD_GATEWAY, "api_host_unreachable"),
            ApiError::ApiHostTls(_) => (StatusCode::BAD_GATEWAY, "api_host_tls"),
            ApiError::ApiHostRefused(_) => (StatusCode::BAD_GATEWAY, "api_host_refused"),
            ApiError::IndexInvalid(_) => (StatusCode::BAD_GATEWAY, "index_invalid"),
            ApiError::DeployInProgress(_) => (StatusCode::CONFLICT, "deploy_in_progress"),
            ApiError::PreflightFailed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "preflight_failed"),
            ApiError::PlanInvalid(_) => (StatusCode::BAD_REQUEST, "plan_invalid"),
            ApiError::DeploymentNotFound(_) => (StatusCode::NOT_FOUND, "deployment_not_found"),
            ApiError::RollbackInvalid(_) => (StatusCode::BAD_REQUEST, "rollback_invalid"),
            ApiError::NotDeployed(_) => (StatusCode::CONFLICT, "not_deployed"),
            ApiError::ContainerNotFound(_) => (StatusCode::NOT_FOUND, "container_not_found"),
            ApiError::RegistriesInvalid(_) => (StatusCode::BAD_REQUEST, "registries_invalid"),
            ApiError::AirgapMode(_) => (StatusCode::CONFLICT, "airgap_mode"),
            ApiError::KeyRotationRefused(_) => (StatusCode::BAD_REQUEST, "key_rotation_refused"),
            ApiError::LicenseRevoked(_) => (StatusCode::FORBIDDEN, "license_revoked"),
            ApiError::SettingsInvalid(_) => (StatusCode::BAD_REQUEST, "settings_invalid"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::LengthRequired => (StatusCode::LENGTH_REQUIRED, "length_required"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// Logs `cause` and answers a bare internal error.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "{context}");
        ApiError::Internal
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
            },
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), status).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(
                warp::http::header::RETRY_AFTER,
                warp::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

impl From<crate::deploy::DeployError> for ApiError {
    fn from(e: crate::deploy::DeployError) -> ApiError {
        use crate::deploy::DeployError;
        let message = capitalise(&e.to_string());
        match e {
            DeployError::InProgress(_) | DeployError::Busy => ApiError::DeployInProgress(message),
            DeployError::PreflightFailed(_) => ApiError::PreflightFailed(message),
            DeployError::Plan(_) | DeployError::NoLicense => ApiError::PlanInvalid(message),
            DeployError::LicenseRevoked(_) => ApiError::LicenseRevoked(message),
            DeployError::NoSuchDeployment(_) => ApiError::DeploymentNotFound(message),
            DeployError::NotRollbackable { .. } => ApiError::RollbackInvalid(message),
            DeployError::NotDeployed => ApiError::NotDeployed(message),
            DeployError::NoSuchContainer { .. } => ApiError::ContainerNotFound(message),
            DeployError::Node(_) => ApiError::NodeCommandFailed(message),
            DeployError::Release(e) => e.into(),
            DeployError::License(e) => e.into(),
            DeployError::Registries(e) => e.into(),
            DeployError::Store(e) => e.into(),
            DeployError::Damaged(..) => ApiError::internal("deployment record", &message),
        }
    }
}

impl From<crate::deploy::registries::RegistriesError> for ApiError {
    fn from(e: crate::deploy::registries::RegistriesError) -> ApiError {
        use crate::deploy::registries::RegistriesError;
        match e {
            RegistriesError::Invalid(_) => ApiError::RegistriesInvalid(capitalise(&e.to_string())),
            RegistriesError::Store(e) => e.into(),
            RegistriesError::License(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal("store failure", &e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        match e {
            AuthError::InvalidCredentials => ApiError::InvalidCredentials,
            AuthError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited { retry_after_secs }
            }
            AuthError::SetupRequired => ApiError::SetupRequired,
            AuthError::SetupTokenInvalid => ApiError::SetupTokenInvalid,
            AuthError::WeakPassword | AuthError::PasswordTooLong => {
                ApiError::WeakPassword(capitalise(&e.to_string()))
            }
            AuthError::Unauthenticated => ApiError::Unauthorized,
            AuthError::Store(e) => e.into(),
            AuthError::Hashing(cause) => ApiError::internal("password hashing failed", &cause),
        }
    }
}

impl From<CertError> for ApiError {
    fn from(e: CertError) -> ApiError {
        if e.is_invalid_input() {
            ApiError::InvalidCertificate(capitalise(&e.to_string()))
        } else {
            ApiError::internal("certificate storage failed", &e)
        }
    }
}

impl From<LicenseError> for ApiError {
    fn from(e: LicenseError) -> ApiError {
        let message = capitalise(&e.to_string());
        match e {
            LicenseError::Invalid(_) => ApiError::LicenseInvalid(message),
            LicenseError::WrongKey { .. } => ApiError::LicenseWrongKey(message),
            LicenseError::Expired { .. } => ApiError::LicenseExpired(message),
            LicenseError::OtherApp { .. } => ApiError::LicenseOtherApp(message),
            LicenseError::OtherLicense { .. } | LicenseError::Older { .. } => {
                ApiError::LicenseInvalid(message)
            }
            LicenseError::RotationWrongKey { .. }
            | LicenseError::RotationNotFromPinned { .. }
            | LicenseError::RotationToKnownKey(_)
            | LicenseError::RotationInvalid(_) => ApiError::KeyRotationRefused(message),
            LicenseError::KeyConfirmationRequired { .. } => {
                ApiError::KeyConfirmationRequired(message)
            }
            LicenseError::TrustKeyMismatch { .. } => ApiError::TrustKeyMismatch(message),
            LicenseError::StoredInvalid(cause) => {
                ApiError::internal("the stored license does not verify", &cause)
            }
            LicenseError::Store(e) => e.into(),
        }
    }
}

impl From<ReleaseError> for ApiError {
    fn from(e: ReleaseError) -> ApiError {
        let message = capitalise(&e.to_string());
        match e {
            ReleaseError::NoLicense
            | ReleaseError::Invalid(_)
            | ReleaseError::WrongKey { .. }
            | ReleaseError::OtherApp { .. }
            | ReleaseError::OtherChannel { .. }
            | ReleaseError::BadApp(_) => ApiError::ReleaseRefused(message),
            ReleaseError::Conflict { .. } => ApiError::ReleaseConflict(message),
            ReleaseError::NotFound(_) => ApiError::ReleaseRefused(message),
            ReleaseError::License(e) => e.into(),
            ReleaseError::Store(e) => e.into(),
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> ApiError {
        let message = capitalise(&e.to_string());
        match e {
            ConfigError::NoRelease => ApiError::ReleaseRefused(message),
            ConfigError::Invalid(_) => ApiError::ConfigInvalid(message),
            ConfigError::Release(e) => e.into(),
            ConfigError::Store(e) => e.into(),
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> ApiError {
        let message = capitalise(&e.to_string());
        match e {
            UpstreamError::NoLicense
            | UpstreamError::NoApiHost
            | UpstreamError::ApiHostNotHttps(_) => ApiError::NoApiHost(message),
            UpstreamError::Unreachable(_) => ApiError::ApiHostUnreachable(message),
            UpstreamError::Tls(_) => ApiError::ApiHostTls(message),
            UpstreamError::LicenseUnknown { .. }
            | UpstreamError::Refused { .. }
            | UpstreamError::TooLarge(_) => ApiError::ApiHostRefused(message),
            UpstreamError::IndexInvalid { .. }
            | UpstreamError::IndexOtherKey { .. }
            | UpstreamError::IndexExpired { .. }
            | UpstreamError::Rollback { .. }
            | UpstreamError::DigestMismatch { .. } => ApiError::IndexInvalid(message),
            UpstreamError::Airgap(_) => ApiError::AirgapMode(message),
            UpstreamError::Release(e) => e.into(),
            UpstreamError::License(e) => e.into(),
            UpstreamError::Store(e) => e.into(),
            UpstreamError::Log(_) | UpstreamError::Task(_) => {
                ApiError::internal("fetching releases failed", &e)
            }
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// Turns every rejection — ours and warp's own — into a JSON error answer.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if let Some(api) = rejection.find::<ApiError>() {
        api.clone()
    } else if rejection.is_not_found() {
        ApiError::NotFound
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge { limit: "1 MiB" }
    } else if rejection.find::<warp::reject::LengthRequired>().is_some() {
        ApiError::LengthRequired
    } else if rejection
        .find::<warp::reject::UnsupportedMediaType>()
        .is_some()
    {
        ApiError::UnsupportedMediaType
    } else if let Some(e) = rejection.find::<warp::body::BodyDeserializeError>() {
        ApiError::BadRequest(format!("The request body is not valid: {}", body_error(e)))
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::BadRequest(format!("The query string is not valid: {e}"))
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if rejection.find::<warp::reject::InvalidHeader>().is_some()
        || rejection.find::<warp::reject::MissingHeader>().is_some()
    {
        ApiError::BadRequest("A request header is missing or not valid.".into())
    } else {
        ApiError::internal("unhandled rejection", &format_args!("{rejection:?}"))
    };
    Ok(error.into_response())
}

/// serde's message, without the offending value it quotes for a wrong type or value
/// (it may be a secret).
fn body_error(e: &warp::body::BodyDeserializeError) -> String {
    let text = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_else(|| e.to_string());
    if text.starts_with("invalid type") || text.starts_with("invalid value") {
        let location = text.rfind(" at line ").map(|i| &text[i..]).unwrap_or("");
        format!("a field has the wrong type or value{location}")
    } else {
        text
    }
}
