//! `/openapi.json`, generated from the routes' `#[utoipa::path]` annotations and the request,
//! response and event types they name: what the document says is what the types send.

use crate::routes::{admin, alerts, doctor, fhir, ingest, ops, session, ward};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Error responses many routes share: `responses((status = 200, body = X), NotLoggedIn, …)`
/// (utoipa takes a type implementing `IntoResponses` beside its tuples), so each is described
/// once.
pub mod errors {
    use std::collections::BTreeMap;
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

    fn error(status: u16, description: &str) -> (String, RefOr<Response>) {
        let body = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build();
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", body)
            .build();
        (status.to_string(), response.into())
    }

    macro_rules! errors {
        ($($(#[$doc:meta])* $name:ident: $(($status:literal, $description:literal)),+;)*) => {$(
            $(#[$doc])*
            pub enum $name {}

            impl utoipa::IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([$(error($status, $description)),+])
                }
            }
        )*};
    }

    errors! {
        /// No session (or it ended).
        NotLoggedIn: (401, "Not logged in");
        /// A query or path value that does not parse.
        Malformed: (400, "A malformed value, named");
        /// The user's role or wards do not cover it.
        NotAllowed: (403, "Not allowed for this role or ward");
        NoSuchRecord: (404, "No such record");
        /// The doctor's own pages: the user is no doctor, or the doctor an admin names is unknown.
        DoctorOnly: (403, "Not a doctor (or an admin naming one)"), (404, "No such doctor");
        /// What reading a JSON body refuses.
        JsonBody: (413, "Body too large"), (415, "Not JSON"), (422, "A value out of range, named");
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Areya API",
        description = "Bedside emotion monitoring: ingest from edge agents, ward state, alerts, configuration, audit. Every error is JSON: {\"error\": a message for a person, \"field\": the one field at fault where there is one, \"said\": the same as words (an English sentence with named slots, for a client to write in its reader's language) where a dashboard shows it}. Query parameters a route does not list are ignored (on every route alike). State-changing routes take JSON bodies; the session cookie is HttpOnly and SameSite=Strict."
    ),
    paths(
        ops::healthz,
        ops::metrics,
        ops::openapi,
        ops::events,
        session::login,
        session::logout,
        session::me,
        ward::ward,
        ward::kpi,
        ward::patient,
        ward::fhir,
        ward::set_consent,
        doctor::patients,
        doctor::stay,
        doctor::notices,
        doctor::ack_notice,
        alerts::list,
        alerts::delivered,
        alerts::acknowledge,
        alerts::snooze,
        ingest::ingest,
        admin::get_rules,
        admin::put_rules,
        admin::get_directory,
        admin::put_directory,
        admin::set_password,
        admin::put_device,
        admin::put_integration,
        admin::delete_integration,
        admin::audit_log,
        admin::deliveries,
        fhir::metadata,
        fhir::code_system,
    ),
    components(schemas(crate::live::LiveEvent, areya_core::Words, areya_core::Arg)),
    modifiers(&Security),
    tags(
        (name = "ops", description = "Health, metrics, this document"),
        (name = "session", description = "Logging in and out"),
        (name = "live", description = "Server-sent events"),
        (name = "ward", description = "What clinicians look at"),
        (name = "doctor", description = "A doctor's patients and their stays"),
        (name = "alerts", description = "The alert inbox"),
        (name = "ingest", description = "Edge agents"),
        (name = "admin", description = "Configuration, consent, audit"),
        (name = "fhir", description = "FHIR R4 for integration engines"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("areya_session"))),
        );
        c.add_security_scheme(
            "device",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An edge device token (PUT /api/admin/devices/{id})."))
                    .build(),
            ),
        );
    }
}

/// The document as served, built once.
pub fn document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        let mut v = serde_json::to_value(&doc).unwrap_or_default();
        name_millis(&mut v);
        serde_json::to_string_pretty(&v).unwrap_or_default()
    })
}

/// The times (`areya_monitor::Millis`, an alias of i64) reach the document as a schema named
/// after the integer type; a generated client should see what they are.
fn name_millis(doc: &mut serde_json::Value) {
    const FROM: &str = "#/components/schemas/i64";
    const TO: &str = "#/components/schemas/Millis";
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if s == FROM => *s = TO.to_string(),
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::Object(o) => o.values_mut().for_each(walk),
            _ => {}
        }
    }
    walk(doc);
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    {
        if schemas.remove("i64").is_some() {
            schemas.insert(
                "Millis".into(),
                serde_json::json!({
                    "type": "integer",
                    "format": "int64",
                    "description": "Milliseconds since the Unix epoch (UTC)."
                }),
            );
        }
    }
}
