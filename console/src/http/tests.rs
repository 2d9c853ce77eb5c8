//! API tests on the warp filter, without a socket, over an in-memory store.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use warp::http::StatusCode;

use super::*;
use crate::audit::{Actor, Source};
use crate::auth::{Auth, SessionPolicy};
use crate::certs::{generate_self_signed, CertManager, SelfSignedNames};
use crate::clock::unix_now;
use crate::store::Store;

const PASSWORD: &str = "a very good password";

struct Console {
    state: Arc<AppState>,
    filter: BoxedFilter<(Response,)>,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: warp::http::HeaderMap,
    body: Value,
}

fn console() -> Console {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let names = SelfSignedNames {
        dns: vec!["localhost".into()],
        ips: vec![],
    };
    let (certs, _) = CertManager::load_or_generate(dir.path(), &names, unix_now()).unwrap();
    let licenses = Arc::new(crate::license::Licenses::new(store.clone()));
    let releases = Arc::new(crate::releases::Releases::new(
        store.clone(),
        licenses.clone(),
    ));
    let recorder = crate::upstream::Recorder::new(
        store.clone(),
        &crate::upstream::RecorderConfig {
            extra_ca: None,
            retention_days: crate::upstream::DEFAULT_OUTBOUND_LOG_DAYS,
            environment_proxy: None,
        },
    )
    .unwrap();
    let upstream = Arc::new(
        crate::upstream::Upstream::new(
            store.clone(),
            licenses.clone(),
            releases.clone(),
            recorder,
            unix_now(),
        )
        .unwrap(),
    );
    let hub = Arc::new(crate::cluster::hub::Hub::new(store.clone()));
    let registries = Arc::new(crate::deploy::Registries::new(
        store.clone(),
        licenses.clone(),
    ));
    let deployer = Arc::new(crate::deploy::Deployer::new(
        store.clone(),
        licenses.clone(),
        releases.clone(),
        registries.clone(),
        hub.clone(),
        crate::deploy::execute::Limits::default(),
        "console.test".into(),
    ));
    let updates = Arc::new(
        crate::updates::Updates::new(
            store.clone(),
            licenses.clone(),
            releases.clone(),
            upstream.clone(),
            deployer.clone(),
            unix_now(),
        )
        .unwrap(),
    );
    let state = Arc::new(AppState {
        registries,
        deployer,
        upstream,
        updates,
        store: store.clone(),
        auth: Arc::new(Auth::new(store.clone(), SessionPolicy::default())),
        certs: Arc::new(certs),
        licenses: licenses.clone(),
        releases: releases.clone(),
        config: Arc::new(crate::appconfig::AppConfig::new(store.clone(), releases)),
        cluster: Arc::new(crate::cluster::Cluster::new(
            store.clone(),
            Arc::new(
                crate::cluster::ca::ClusterCa::load_or_generate(&dir.path().join("ca"), unix_now())
                    .unwrap()
                    .0,
            ),
        )),
        hub,
        started: Instant::now(),
        started_at: unix_now(),
        base_url: "https://console.test:8800".into(),
        cluster_url: "https://console.test:9879".into(),
    });
    Console {
        filter: routes(state.clone()),
        state,
        _dir: dir,
    }
}

impl Console {
    fn setup_token(&self) -> String {
        self.state
            .auth
            .issue_setup_token(&Actor::System, &Source::Local, unix_now())
            .unwrap()
    }

    async fn send(&self, request: warp::test::RequestBuilder) -> Answer {
        let response = request
            .remote_addr("198.51.100.4:50000".parse().unwrap())
            .reply(&self.filter)
            .await;
        let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(warp::test::request().method("POST").path(path).json(&body))
            .await
    }

    /// Sets the password and logs in; returns (cookie header value, csrf token).
    async fn login(&self) -> (String, String) {
        let token = self.setup_token();
        let answer = self
            .post(
                "/api/v1/setup",
                json!({"token": token, "password": PASSWORD}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        let answer = self
            .post("/api/v1/login", json!({"password": PASSWORD}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        let set_cookie = answer.headers["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        (
            cookie,
            answer.body["csrf_token"].as_str().unwrap().to_owned(),
        )
    }
}

fn request(method: &str, path: &str) -> warp::test::RequestBuilder {
    let builder = warp::test::request().method(method).path(path);
    if method == "GET" {
        builder
    } else {
        builder.json(&json!({}))
    }
}

fn assert_error(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "{:?}", answer.body);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "every error carries a message: {:?}",
        answer.body
    );
}

#[tokio::test]
async fn without_a_session_every_admin_route_answers_401() {
    let console = console();
    for route in ROUTES {
        let answer = console.send(request(route.method, route.path)).await;
        match route.access {
            Access::Admin => assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthorized"),
            Access::Public => assert_ne!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{} {} is public",
                route.method,
                route.path
            ),
        }
    }
    // Paths missing from the table are guarded too, so a route added without a row
    // in it is still behind the session.
    for path in ["/api/v1/not-a-route", "/api/v1/tls/extra", "/api/v1/"] {
        let answer = console.send(request("GET", path)).await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn with_a_session_every_route_in_the_table_exists() {
    let console = console();
    let (cookie, csrf) = console.login().await;
    for route in ROUTES.iter().filter(|r| r.access == Access::Admin) {
        if route.path == "/api/v1/logout" {
            continue;
        }
        let answer = console
            .send(
                request(route.method, route.path)
                    .header("cookie", &cookie)
                    .header(CSRF_HEADER, &csrf),
            )
            .await;
        // A route that exists may still answer 404 for a missing resource, but never with
        // the router's own `not_found` code.
        assert!(
            answer.body["error"]["code"] != "not_found"
                && answer.status != StatusCode::METHOD_NOT_ALLOWED
                && answer.status != StatusCode::UNAUTHORIZED,
            "{} {} answered {}",
            route.method,
            route.path,
            answer.status
        );
    }
    let answer = console
        .send(request("GET", "/api/v1/not-a-route").header("cookie", &cookie))
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn health_is_public_and_reports_version_and_uptime() {
    let console = console();
    let answer = console.send(request("GET", "/api/v1/health")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "ok");
    assert_eq!(answer.body["version"], crate::VERSION);
    assert!(answer.body["uptime_seconds"].is_u64());
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert_eq!(answer.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_setup_token_works_once_then_answers_403() {
    let console = console();
    let token = console.setup_token();
    let status = console
        .send(request("GET", &format!("/api/v1/setup?token={token}")))
        .await;
    assert_eq!(
        status.body,
        json!({"admin_configured": false, "token_valid": true})
    );

    let weak = console
        .post(
            "/api/v1/setup",
            json!({"token": token, "password": "short"}),
        )
        .await;
    assert_error(&weak, StatusCode::BAD_REQUEST, "weak_password");

    let first = console
        .post(
            "/api/v1/setup",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let again = console
        .post(
            "/api/v1/setup",
            json!({"token": token, "password": "an attacker's password"}),
        )
        .await;
    assert_error(&again, StatusCode::FORBIDDEN, "setup_token_invalid");

    let status = console
        .send(request("GET", &format!("/api/v1/setup?token={token}")))
        .await;
    assert_eq!(
        status.body,
        json!({"admin_configured": true, "token_valid": false})
    );
    let login = console
        .post("/api/v1/login", json!({"password": PASSWORD}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "the first password stands");
}

#[tokio::test]
async fn login_sets_a_strict_session_cookie_and_logout_ends_it() {
    let console = console();
    let (cookie, csrf) = console.login().await;
    let answer = console
        .post("/api/v1/login", json!({"password": PASSWORD}))
        .await;
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap();
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }

    let session = console
        .send(request("GET", "/api/v1/session").header("cookie", &cookie))
        .await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.body["username"], "admin");
    assert_eq!(session.body["csrf_token"], csrf.as_str());

    let logout = console
        .send(
            request("POST", "/api/v1/logout")
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf),
        )
        .await;
    assert_eq!(logout.status, StatusCode::OK);
    assert!(logout.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = console
        .send(request("GET", "/api/v1/session").header("cookie", &cookie))
        .await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn mutating_requests_need_the_sessions_csrf_token() {
    let console = console();
    let (cookie, csrf) = console.login().await;
    for header in [None, Some("wrong-token")] {
        let mut builder = request("POST", "/api/v1/logout").header("cookie", &cookie);
        if let Some(value) = header {
            builder = builder.header(CSRF_HEADER, value);
        }
        assert_error(&console.send(builder).await, StatusCode::FORBIDDEN, "csrf");
    }
    let session = console
        .send(request("GET", "/api/v1/session").header("cookie", &cookie))
        .await;
    assert_eq!(
        session.status,
        StatusCode::OK,
        "refused logouts changed nothing"
    );
    let ok = console
        .send(
            request("POST", "/api/v1/logout")
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn the_sixth_wrong_password_in_a_minute_answers_429_and_all_are_audited() {
    let console = console();
    let (cookie, _) = console.login().await;
    for attempt in 1..=5 {
        let answer = console
            .post("/api/v1/login", json!({"password": "not the password"}))
            .await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(attempt, attempt);
    }
    let sixth = console
        .post("/api/v1/login", json!({"password": PASSWORD}))
        .await;
    assert_error(&sixth, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry_after: u64 = sixth.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));

    let audit = console
        .send(request("GET", "/api/v1/audit?limit=50").header("cookie", &cookie))
        .await;
    let entries = audit.body["entries"].as_array().unwrap();
    let failures: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "login.failed")
        .collect();
    assert_eq!(failures.len(), 5);
    assert!(failures.iter().all(|e| e["source"] == "198.51.100.4"));
    assert!(entries.iter().any(|e| e["action"] == "login.rate_limited"));
    assert!(entries.iter().any(|e| e["action"] == "setup.completed"));
    let text = audit.body.to_string();
    assert!(
        !text.contains("not the password"),
        "no password in the audit log"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413_and_bad_json_400() {
    let console = console();
    let big = json!({"password": "x".repeat(2 * 1024 * 1024)});
    let answer = console.post("/api/v1/login", big).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let malformed = console
        .send(
            warp::test::request()
                .method("POST")
                .path("/api/v1/login")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "bad_request");

    let unknown_field = console
        .post("/api/v1/login", json!({"password": "x", "admin": true}))
        .await;
    assert_error(&unknown_field, StatusCode::BAD_REQUEST, "bad_request");

    let wrong_type = console
        .post(
            "/api/v1/setup",
            json!({"token": 987_654_321, "password": "x"}),
        )
        .await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        !wrong_type.body.to_string().contains("987654321"),
        "the value is not echoed: {:?}",
        wrong_type.body
    );
}

#[tokio::test]
async fn a_malformed_certificate_is_refused_and_the_old_one_kept() {
    let console = console();
    let (cookie, csrf) = console.login().await;
    let before = console.state.certs.info();
    let (_, key) = generate_self_signed(&SelfSignedNames::default(), unix_now()).unwrap();
    let answer = console
        .send(
            warp::test::request()
                .method("PUT")
                .path("/api/v1/tls")
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf)
                .json(&json!({"certificate_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "private_key_pem": key})),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_certificate");
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("current certificate stays in use"));
    assert_eq!(console.state.certs.info(), before);

    let audit = console
        .send(request("GET", "/api/v1/audit").header("cookie", &cookie))
        .await;
    assert_eq!(audit.body["entries"][0]["action"], "tls.rejected");
}

#[tokio::test]
async fn a_valid_certificate_is_served_and_audited() {
    let console = console();
    let (cookie, csrf) = console.login().await;
    let names = SelfSignedNames {
        dns: vec!["console.corp.example".into()],
        ips: vec![],
    };
    let (cert, key) = generate_self_signed(&names, unix_now()).unwrap();
    let answer = console
        .send(
            warp::test::request()
                .method("PUT")
                .path("/api/v1/tls")
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf)
                .json(&json!({"certificate_pem": cert, "private_key_pem": key})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["dns_names"], json!(["console.corp.example"]));
    let status = console
        .send(request("GET", "/api/v1/status").header("cookie", &cookie))
        .await;
    assert_eq!(
        status.body["tls"]["fingerprint_sha256"],
        answer.body["fingerprint_sha256"]
    );
    let audit = console
        .send(request("GET", "/api/v1/audit?limit=1").header("cookie", &cookie))
        .await;
    assert_eq!(audit.body["entries"][0]["action"], "tls.replaced");
    assert!(!audit.body.to_string().contains("PRIVATE KEY"));
}

#[tokio::test]
async fn audit_pages_are_bounded_and_chained() {
    let console = console();
    let (cookie, _) = console.login().await;
    let bad = console
        .send(request("GET", "/api/v1/audit?limit=0").header("cookie", &cookie))
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    let first = console
        .send(request("GET", "/api/v1/audit?limit=1").header("cookie", &cookie))
        .await;
    let next = first.body["next_before"].as_i64().unwrap();
    let second = console
        .send(
            request("GET", &format!("/api/v1/audit?limit=500&before={next}"))
                .header("cookie", &cookie),
        )
        .await;
    let ids: Vec<i64> = second.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id < next));
    assert!(second.body["next_before"].is_null());
}

#[tokio::test]
async fn the_ui_is_served_with_spa_fallback_but_api_paths_never_fall_through() {
    let console = console();
    for path in ["/", "/setup", "/settings/tls", "/audit"] {
        let answer = console
            .send(warp::test::request().method("GET").path(path))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let answer = console
        .send(warp::test::request().method("GET").path("/api/nope"))
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_license_flow_confirms_the_key_once_and_never_shows_the_password() {
    use outpost_airgap::license::{License, RegistryCredentials};
    use outpost_airgap::{seal, SigningKey};

    let console = console();
    let (cookie, csrf) = console.login().await;
    let key = SigningKey::generate();
    let now = time::OffsetDateTime::now_utc();
    let license = License {
        schema: 1,
        license_id: "lic-1".into(),
        customer: "Example Corp".into(),
        app_id: "sample-app".into(),
        channel: "stable".into(),
        issued_at: now - time::Duration::days(1),
        expires_at: now + time::Duration::days(90),
        entitlements: [("seats".to_owned(), "5".to_owned())].into(),
        airgap: false,
        max_nodes: Some(3),
        api_host: None,
        registry: Some(RegistryCredentials {
            host: Some("registry.example.com".into()),
            username: "pull-user".into(),
            password: "pull-secret-password".into(),
        }),
        vendor_key: key.public().to_base64(),
        revoked: None,
    };
    let text = String::from_utf8(seal(&license, &key).to_bytes()).unwrap();
    let post = |path: &str, body: Value| {
        warp::test::request()
            .method("POST")
            .path(path)
            .header("cookie", &cookie)
            .header(CSRF_HEADER, &csrf)
            .json(&body)
    };

    let inspected = console
        .send(post("/api/v1/license/inspect", json!({"license": text})))
        .await;
    assert_eq!(inspected.status, StatusCode::OK);
    assert_eq!(inspected.body["fingerprint"], key.public().keyid());
    assert_eq!(inspected.body["key_pinned"], false);
    assert_eq!(inspected.body["claims"]["customer"], "Example Corp");

    let unconfirmed = console
        .send(post("/api/v1/license", json!({"license": text})))
        .await;
    assert_error(
        &unconfirmed,
        StatusCode::CONFLICT,
        "key_confirmation_required",
    );
    let empty = console
        .send(request("GET", "/api/v1/license").header("cookie", &cookie))
        .await;
    assert_eq!(empty.body, json!({"license": null}));

    let loaded = console
        .send(post(
            "/api/v1/license",
            json!({"license": text, "trust_key": key.public().keyid()}),
        ))
        .await;
    assert_eq!(loaded.status, StatusCode::OK, "{:?}", loaded.body);
    assert_eq!(loaded.body["registry_username"], "pull-user");
    let current = console
        .send(request("GET", "/api/v1/license").header("cookie", &cookie))
        .await;
    assert_eq!(current.body["license"]["max_nodes"], 3);
    assert_eq!(current.body["license"]["entitlements"]["seats"], "5");
    for answer in [&loaded, &current, &inspected] {
        assert!(!answer.body.to_string().contains("pull-secret-password"));
    }

    let other = SigningKey::generate();
    let mut foreign = license.clone();
    foreign.vendor_key = other.public().to_base64();
    let foreign = String::from_utf8(seal(&foreign, &other).to_bytes()).unwrap();
    let refused = console
        .send(post("/api/v1/license", json!({"license": foreign})))
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "license_wrong_key");
    let garbage = console
        .send(post("/api/v1/license", json!({"license": "garbage"})))
        .await;
    assert_error(&garbage, StatusCode::BAD_REQUEST, "license_invalid");
}

#[tokio::test]
async fn updates_and_outbound_settings_answer_in_json_and_refuse_bad_settings_whole() {
    let console = console();
    let (cookie, csrf) = console.login().await;
    let get = |path: &str| request("GET", path).header("cookie", &cookie);
    let put = |body: Value| {
        warp::test::request()
            .method("PUT")
            .path("/api/v1/settings/outbound")
            .header("cookie", &cookie)
            .header(CSRF_HEADER, &csrf)
            .json(&body)
    };

    // No license: not online, and a check has nothing to call.
    let updates = console.send(get("/api/v1/updates")).await;
    assert_eq!(updates.status, StatusCode::OK, "{:?}", updates.body);
    assert_eq!(updates.body["state"], "not_online");
    assert_eq!(updates.body["schedule"]["setting"], "every 1h");
    let check = console
        .send(
            request("POST", "/api/v1/updates/check")
                .header("cookie", &cookie)
                .header(CSRF_HEADER, &csrf),
        )
        .await;
    assert_error(&check, StatusCode::CONFLICT, "no_api_host");

    // Every bad field is named; nothing changes.
    let refused = console
        .send(put(json!({
            "update_schedule": "sometimes",
            "https_proxy": "ftp://user:pw-in-url@proxy:21",
            "airgap_mode": true
        })))
        .await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "settings_invalid");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("update_schedule") && message.contains("https_proxy"),
        "{message}"
    );
    assert!(!message.contains("pw-in-url"), "{message}");
    let unknown = console.send(put(json!({"proxy": "x"}))).await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "bad_request");
    let settings = console.send(get("/api/v1/settings/outbound")).await;
    assert_eq!(settings.body["airgap_mode"], false);

    // A good change: the password is masked in the answer, airgap mode shows everywhere.
    let changed = console
        .send(put(json!({
            "update_schedule": "every 30m",
            "https_proxy": "http://user:pw-in-url@proxy.corp:3128",
            "no_proxy": ".corp",
            "airgap_mode": true
        })))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["update_schedule"], "every 30m");
    assert_eq!(changed.body["proxy_source"], "the console setting");
    assert!(
        changed.body["airgap"]
            .as_str()
            .is_some_and(|why| why.contains("admin")),
        "{:?}",
        changed.body
    );
    assert!(!changed.body.to_string().contains("pw-in-url"));
    let updates = console.send(get("/api/v1/updates")).await;
    assert_eq!(updates.body["state"], "airgap");
    let network = console.send(get("/api/v1/network")).await;
    assert_eq!(network.status, StatusCode::OK, "{:?}", network.body);
    assert_eq!(network.body["outbound"], json!([]));
    let ports: Vec<&str> = network.body["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["port"].as_str().unwrap())
        .collect();
    assert_eq!(ports, ["8800", "9879", "9874", "9870-9880"]);
    let audit = console.send(get("/api/v1/audit?limit=5")).await;
    assert!(!audit.body.to_string().contains("pw-in-url"));
}
