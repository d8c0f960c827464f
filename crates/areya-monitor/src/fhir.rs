//! FHIR R4 export of one patient's monitoring record as a `collection` Bundle: the Patient
//! (Areya's id and the hospital's identifiers, nothing else personal), an Observation per window
//! (negative share, face coverage, class probabilities) and per attention score, a
//! CommunicationRequest per alert, a Communication per acknowledgement, a Flag while an alert is
//! open, and Areya's CodeSystem, so every reference and every Areya code resolves inside the
//! Bundle. Kinds are spelled as the API and the live events spell them (`sustained_negative`,
//! `assigned_nurse`). Ids are stable (derived from the content), so exporting twice gives the
//! same resources.

use crate::alerts::{Alert, AlertKind, AlertState};
use crate::directory::Identifier;
use crate::rules::Priority;
use crate::state::Assessment;
use crate::stay::StayDay;
use crate::window::WindowAggregate;
use areya_core::time::iso8601_utc;
use areya_core::{Emotion, PatientId};
use serde_json::{json, Value};

/// Areya's code system for its own observation and alert codes (published as the CodeSystem
/// resource [`code_system`], in every Bundle and at `/fhir/CodeSystem/areya`).
pub const CODE_SYSTEM: &str = "urn:areya:fhir:codes";
/// Areya's own patient ids (`p-1001`), beside the hospital's.
pub const PATIENT_SYSTEM: &str = "urn:areya:patient";
/// Areya's staff ids, for who acknowledged.
pub const STAFF_SYSTEM: &str = "urn:areya:staff";
/// Who an alert notified (`assigned_nurse`, `charge_nurse`, `ward_failsafe`).
pub const RECIPIENT_SYSTEM: &str = "urn:areya:recipient";
const UCUM: &str = "http://unitsofmeasure.org";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const COMMUNICATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/communication-category";
const FLAG_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/flag-category";
const IDENTIFIER_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
const SNOMED: &str = "http://snomed.info/sct";
/// SNOMED CT's observable entity for what a window observes (beside Areya's own code).
const SNOMED_FACIAL_EXPRESSION: (&str, &str) =
    ("248148002", "Facial expression (observable entity)");

/// Every code of [`CODE_SYSTEM`], with its display and definition.
pub fn codes() -> Vec<(String, String, String)> {
    let mut c: Vec<(String, String, String)> = [
        ("emotion-window", "Facial emotion window", "What the bedside camera's emotion classifier saw over one window: face coverage, negative share and the mean class probabilities."),
        ("face-coverage", "Face coverage", "Share of the window's sampled frames in which the patient's face was found and classified (ratio 0–1)."),
        ("negative-share", "Negative emotion share (angry + sad)", "Mean probability of a negative emotion (angry or sad) over the window's face frames (ratio 0–1)."),
        ("attention-score", "Areya attention score", "0 (nothing to see) to 100 (needs attention now): how far the negative share over the recent horizon is above the patient's learned usual."),
        ("emotion-day", "Facial emotion day", "One day of a stay on the ward's clock: how long the face was seen and not seen, the share of the seen time in each emotion, the negative share against the patient's usual, the attention score and the alerts with how they were answered."),
        ("face-seen-time", "Time the face was seen", "Minutes of the day in which the patient's face was seen and classified."),
        ("face-not-seen-time", "Time the face was not seen", "Minutes of the day (so far) without a seen face: turned away, out of bed, camera off or paused."),
        ("negative-baseline", "Usual negative emotion share", "The patient's own negative share (angry + sad), learned on admission (ratio 0–1)."),
        ("attention-score-mean", "Mean attention score", "Mean of the day's attention scores (0–100)."),
        ("attention-score-peak", "Highest attention score", "Highest of the day's attention scores (0–100)."),
        ("alerts-raised", "Alerts raised", "Sustained negative emotion alerts raised that day."),
        ("alerts-actionable", "Alerts acknowledged as actionable", "Of the day's alerts, how many a clinician acknowledged as actionable."),
        ("alerts-not-actionable", "Alerts acknowledged as not actionable", "Of the day's alerts, how many a clinician acknowledged as not actionable."),
        ("alerts-unanswered", "Alerts not acknowledged", "Of the day's alerts, how many nobody acknowledged."),
    ]
    .iter()
    .map(|(a, b, d)| (a.to_string(), b.to_string(), d.to_string()))
    .collect();
    for e in Emotion::ALL {
        c.push((
            format!("p-{e}"),
            format!("Probability {e}"),
            format!("Mean probability of '{e}' over the window's face frames (ratio 0–1)."),
        ));
    }
    for k in AlertKind::ALL {
        c.push((
            kind_code(k).to_string(),
            kind_text(k).to_string(),
            kind_definition(k).to_string(),
        ));
    }
    c
}

/// The CodeSystem resource of Areya's own codes.
pub fn code_system() -> Value {
    let concepts: Vec<Value> = codes()
        .into_iter()
        .map(|(code, display, definition)| {
            json!({"code": code, "display": display, "definition": definition})
        })
        .collect();
    json!({
        "resourceType": "CodeSystem",
        "id": "areya",
        "url": CODE_SYSTEM,
        "version": env!("CARGO_PKG_VERSION"),
        "name": "AreyaCodes",
        "title": "Areya bedside emotion monitoring codes",
        "status": "active",
        "experimental": false,
        "publisher": "Areya",
        "description": "Codes for what Areya measures and alerts on, where no standard code exists.",
        "caseSensitive": true,
        "content": "complete",
        "count": concepts.len(),
        "concept": concepts,
    })
}

/// A stable UUID (RFC 4122 layout, version 8 "custom") from a text key.
pub fn stable_uuid(key: &str) -> String {
    let mut h: [u64; 2] = [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4];
    for (i, h) in h.iter_mut().enumerate() {
        for b in key.bytes().chain(std::iter::once(i as u8)) {
            *h ^= b as u64;
            *h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    let (a, b) = (h[0], h[1]);
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_8000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn code(code: &str, display: &str) -> Value {
    json!({"coding": [{"system": CODE_SYSTEM, "code": code, "display": display}], "text": display})
}

fn category(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

fn ratio(v: f64) -> Value {
    json!({"value": (v * 10_000.0).round() / 10_000.0, "unit": "ratio", "system": UCUM, "code": "1"})
}

fn entry(key: &str, resource: Value) -> Value {
    json!({"fullUrl": format!("urn:uuid:{}", stable_uuid(key)), "resource": resource})
}

fn priority(p: Priority) -> &'static str {
    match p {
        Priority::Info | Priority::Low => "routine",
        Priority::Medium => "urgent",
    }
}

/// The kind as the API and the live events spell it.
fn kind_code(k: AlertKind) -> &'static str {
    match k {
        AlertKind::SustainedNegative => "sustained_negative",
        AlertKind::SourceOffline => "source_offline",
        AlertKind::NoFace => "no_face",
        AlertKind::ModelError => "model_error",
    }
}

fn kind_text(k: AlertKind) -> &'static str {
    match k {
        AlertKind::SustainedNegative => "Sustained negative emotion",
        AlertKind::SourceOffline => "Bedside camera offline",
        AlertKind::NoFace => "No face seen",
        AlertKind::ModelError => "Emotion model error",
    }
}

fn kind_definition(k: AlertKind) -> &'static str {
    match k {
        AlertKind::SustainedNegative => "The patient's negative emotion share stayed above the ward's rule (and their usual) for the rule's minimum time.",
        AlertKind::SourceOffline => "The bed's camera sent nothing for longer than the server allows (technical).",
        AlertKind::NoFace => "The camera worked but no face was seen for longer than the rule allows (technical).",
        AlertKind::ModelError => "The edge's emotion model failed on this bed's frames (technical).",
    }
}

/// SNOMED CT's facial expression with Areya's own code for what exactly was observed.
fn facial_expression(areya: &str, display: &str, text: &str) -> Value {
    json!({
        "coding": [
            {"system": SNOMED, "code": SNOMED_FACIAL_EXPRESSION.0, "display": SNOMED_FACIAL_EXPRESSION.1},
            {"system": CODE_SYSTEM, "code": areya, "display": display},
        ],
        "text": text,
    })
}

fn minutes(ms: i64) -> Value {
    json!({"value": (ms as f64 / 60_000.0).round(), "unit": "min", "system": UCUM, "code": "min"})
}

/// One day of the stay as its doctor reads it (`stay`), as an Observation with components.
fn day_observation(patient: &PatientId, subject: &Value, survey: &Value, d: &StayDay) -> Value {
    let mut c = vec![
        json!({"code": code("face-seen-time", "Time the face was seen"), "valueQuantity": minutes(d.seen_ms)}),
        json!({"code": code("face-not-seen-time", "Time the face was not seen"), "valueQuantity": minutes(d.not_seen_ms)}),
    ];
    if let (Some(neg), Some(e)) = (d.negative, d.emotions) {
        c.push(json!({"code": code("negative-share", "Negative emotion share (angry + sad)"), "valueQuantity": ratio(neg)}));
        for em in Emotion::ALL {
            c.push(json!({"code": code(&format!("p-{em}"), &format!("Probability {em}")), "valueQuantity": ratio(e.get(em) as f64)}));
        }
    }
    if let Some(b) = d.baseline {
        c.push(json!({"code": code("negative-baseline", "Usual negative emotion share"), "valueQuantity": ratio(b)}));
    }
    if let (Some(mean), Some(peak)) = (d.score_mean, d.score_peak) {
        c.push(json!({"code": code("attention-score-mean", "Mean attention score"), "valueQuantity": {"value": (mean * 10.0).round() / 10.0}}));
        c.push(json!({"code": code("attention-score-peak", "Highest attention score"), "valueInteger": peak}));
    }
    let a = &d.alerts;
    for (n, key, text) in [
        (a.raised, "alerts-raised", "Alerts raised"),
        (
            a.actionable,
            "alerts-actionable",
            "Alerts acknowledged as actionable",
        ),
        (
            a.not_actionable,
            "alerts-not-actionable",
            "Alerts acknowledged as not actionable",
        ),
        (a.unanswered, "alerts-unanswered", "Alerts not acknowledged"),
    ] {
        c.push(json!({"code": code(key, text), "valueInteger": n}));
    }
    let key = format!("day/{patient}/{}", d.date);
    let note = if d.negative.is_none() {
        "Under 10 minutes of face seen: not judged."
    } else {
        "Shares are of the time the face was seen."
    };
    entry(
        &key,
        json!({
            "resourceType": "Observation", "id": stable_uuid(&key), "status": "final",
            "category": [survey],
            "code": facial_expression("emotion-day", "Facial emotion day", &format!("Facial emotion day {}", d.date)),
            "subject": subject,
            "effectivePeriod": {"start": iso8601_utc(d.start_ms), "end": iso8601_utc(d.end_ms)},
            "component": c,
            "note": [{"text": note}],
        }),
    )
}

/// The Bundle for `patient`, with the hospital's `identifiers` of that patient and the days of
/// the stay in the period (`stay::days_in`).
pub fn bundle(
    patient: &PatientId,
    identifiers: &[Identifier],
    windows: &[WindowAggregate],
    scores: &[Assessment],
    alerts: &[Alert],
    now_ms: i64,
    days: &[StayDay],
) -> Value {
    let patient_key = format!("patient/{patient}");
    let patient_url = format!("urn:uuid:{}", stable_uuid(&patient_key));
    let subject = json!({"reference": patient_url});
    let mut ids = vec![json!({"use": "secondary", "system": PATIENT_SYSTEM, "value": patient})];
    for i in identifiers {
        ids.push(json!({
            "use": "usual",
            "type": category(IDENTIFIER_TYPE, "MR", "Medical record number"),
            "system": i.system,
            "value": i.value,
        }));
    }
    let mut entries = vec![
        entry(
            &patient_key,
            json!({
                "resourceType": "Patient", "id": stable_uuid(&patient_key),
                "identifier": ids,
                "active": true,
            }),
        ),
        entry("codesystem/areya", code_system()),
    ];
    // Inside a Bundle the CodeSystem goes by its entry's stable id (published, it is "areya").
    entries[1]["resource"]["id"] = json!(stable_uuid("codesystem/areya"));
    let survey = category(OBSERVATION_CATEGORY, "survey", "Survey");
    for w in windows.iter().filter(|w| &w.patient == patient) {
        let mut components = vec![
            json!({"code": code("face-coverage", "Face coverage"), "valueQuantity": ratio(w.coverage())}),
        ];
        if let (Some(neg), Some(mean)) = (w.negative(), w.mean()) {
            components.push(json!({"code": code("negative-share", "Negative emotion share (angry + sad)"), "valueQuantity": ratio(neg)}));
            for e in Emotion::ALL {
                components.push(json!({"code": code(&format!("p-{e}"), &format!("Probability {e}")), "valueQuantity": ratio(mean.get(e) as f64)}));
            }
        }
        let key = format!("window/{patient}/{}", w.start_ms);
        entries.push(entry(
            &key,
            json!({
                "resourceType": "Observation", "id": stable_uuid(&key), "status": "final",
                "category": [survey],
                "code": facial_expression("emotion-window", "Facial emotion window", "Facial emotion window"),
                "subject": subject,
                "effectivePeriod": {"start": iso8601_utc(w.start_ms), "end": iso8601_utc(w.end_ms)},
                "component": components,
                "note": [{"text": format!("{} sampled frames, {} with a face", w.frames, w.faces)}],
            }),
        ));
    }
    for a in scores {
        let key = format!("score/{patient}/{}", a.at_ms);
        entries.push(entry(
            &key,
            json!({
                "resourceType": "Observation", "id": stable_uuid(&key), "status": "final",
                "category": [survey],
                "code": code("attention-score", "Areya attention score"),
                "subject": subject,
                "effectiveDateTime": iso8601_utc(a.at_ms),
                "valueInteger": a.score,
                "interpretation": [{"text": serde_json::to_value(a.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()}],
                "note": [{"text": a.reason}],
            }),
        ));
    }
    for al in alerts.iter().filter(|a| &a.patient == patient) {
        let req_key = format!("alert/{}", al.id);
        let req_url = format!("urn:uuid:{}", stable_uuid(&req_key));
        let open = al.state != AlertState::Resolved;
        let technical = al.kind != AlertKind::SustainedNegative;
        // A patient nobody could see for a while: the request waits (FHIR "on-hold") and says why.
        let (status, status_reason) = match (open, al.blind_since_ms) {
            (false, _) => ("completed", None),
            (true, Some(since)) => (
                "on-hold",
                Some(format!(
                    "cannot assess: face not seen since {}",
                    iso8601_utc(since)
                )),
            ),
            (true, None) => ("active", None),
        };
        let recipient = serde_json::to_value(al.notified)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let mut request = json!({
                "resourceType": "CommunicationRequest", "id": stable_uuid(&req_key),
                "status": status,
                "category": [
                    category(COMMUNICATION_CATEGORY, "alert", "Alert"),
                    code(kind_code(al.kind), kind_text(al.kind)),
                ],
                "priority": priority(al.priority),
                "subject": subject,
                "authoredOn": iso8601_utc(al.raised_ms),
                "payload": [{"contentString": format!("{}: {}", kind_text(al.kind), al.reason)}],
                "recipient": [{
                    "identifier": {"system": RECIPIENT_SYSTEM, "value": recipient},
                    "display": recipient.replace('_', " "),
                }],
        });
        if let Some(why) = status_reason {
            request["statusReason"] = json!({ "text": why });
        }
        entries.push(entry(&req_key, request));
        if let Some(ack) = &al.ack {
            let key = format!("ack/{}/{}", al.id, ack.at_ms);
            let verdict = if ack.actionable {
                "actionable".to_string()
            } else {
                format!("not actionable: {}", ack.reason.clone().unwrap_or_default())
            };
            entries.push(entry(
                &key,
                json!({
                    "resourceType": "Communication", "id": stable_uuid(&key), "status": "completed",
                    "category": [category(COMMUNICATION_CATEGORY, "notification", "Notification")],
                    "basedOn": [{"reference": req_url}],
                    "subject": subject,
                    "sent": iso8601_utc(ack.at_ms),
                    "sender": {"identifier": {"system": STAFF_SYSTEM, "value": ack.by}, "display": ack.by},
                    "payload": [{"contentString": format!("Acknowledged ({verdict})")}],
                }),
            ));
        }
        if open {
            let key = format!("flag/{}", al.id);
            let (flag, flag_text) = if technical {
                ("admin", "Administrative")
            } else {
                ("clinical", "Clinical")
            };
            entries.push(entry(
                &key,
                json!({
                    "resourceType": "Flag", "id": stable_uuid(&key), "status": "active",
                    "category": [category(FLAG_CATEGORY, flag, flag_text)],
                    "code": code(kind_code(al.kind), kind_text(al.kind)),
                    "subject": subject,
                    "period": {"start": iso8601_utc(al.raised_ms)},
                }),
            ));
        }
    }
    for d in days {
        entries.push(day_observation(patient, &subject, &survey, d));
    }
    json!({
        "resourceType": "Bundle",
        "id": stable_uuid(&format!("bundle/{patient}/{now_ms}")),
        "type": "collection",
        "timestamp": iso8601_utc(now_ms),
        "entry": entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertBook, ConditionInfo};
    use crate::rules::Escalation;
    use crate::state::{PatientState, StateConfig};
    use crate::MINUTE;

    #[test]
    fn bundle_is_structurally_sound_fhir() {
        let p = PatientId::parse("p-9").unwrap();
        let windows: Vec<WindowAggregate> = (0..3)
            .map(|m| WindowAggregate {
                patient: p.clone(),
                start_ms: m * MINUTE,
                end_ms: (m + 1) * MINUTE,
                frames: 30,
                faces: 20,
                prob_sums: areya_core::EmotionSums::from_array([4.0, 2.0, 4.0, 10.0]),
                confidence_sum: 12.0,
            })
            .collect();
        let mut state = PatientState::new(StateConfig::default());
        windows.iter().for_each(|w| state.add(w.clone()));
        let score = state.assess(3 * MINUTE);
        let mut book = AlertBook::new(Escalation::default());
        let info = ConditionInfo {
            said: None,
            priority: Priority::Low,
            reason: score.reason.clone(),
            score: score.score,
            cooldown_s: 0,
            realarm_s: 3600,
        };
        book.on_condition(&p, AlertKind::SustainedNegative, true, 3 * MINUTE, &info);
        book.acknowledge(
            1,
            "nurse.kim",
            false,
            Some("visitor just left".into()),
            4 * MINUTE,
        )
        .unwrap();
        let alerts: Vec<Alert> = book.open_alerts().cloned().collect();
        let mrn = [Identifier {
            system: "urn:oid:2.999.1".into(),
            value: "MRN-7".into(),
        }];
        let b = bundle(&p, &mrn, &windows, &[score], &alerts, 5 * MINUTE, &[]);

        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "collection");
        let entries = b["entry"].as_array().unwrap();
        let types: Vec<&str> = entries
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "Patient",
                "CodeSystem",
                "Observation",
                "Observation",
                "Observation",
                "Observation",
                "CommunicationRequest",
                "Communication",
                "Flag"
            ]
        );
        let mut urls: Vec<&str> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        for u in &urls {
            assert!(u.starts_with("urn:uuid:") && u.len() == 45, "{u}");
        }
        urls.sort();
        urls.dedup();
        assert_eq!(urls.len(), entries.len(), "fullUrls are unique");
        // Every object in the Bundle, at any depth: where references and codes are found.
        fn objects<'a>(v: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
            match v {
                Value::Object(o) => {
                    out.push(o);
                    o.values().for_each(|x| objects(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| objects(x, out)),
                _ => {}
            }
        }
        let mut all = vec![];
        objects(&b, &mut all);
        // Every reference resolves inside the Bundle.
        let refs: Vec<&str> = all
            .iter()
            .filter_map(|o| o.get("reference")?.as_str())
            .collect();
        assert!(refs.len() >= 8, "{refs:?}");
        for r in &refs {
            assert!(urls.contains(r), "{r} does not resolve in the Bundle");
        }
        let patient = &entries[0];
        for e in entries {
            let r = &e["resource"];
            assert_eq!(
                e["fullUrl"].as_str().unwrap()[9..],
                *r["id"].as_str().unwrap()
            );
            if r["resourceType"] != "Patient" && r["resourceType"] != "CodeSystem" {
                assert_eq!(r["subject"]["reference"], patient["fullUrl"]);
            }
            assert!(r["status"].is_string() || r["resourceType"] == "Patient");
        }
        let ids = &patient["resource"]["identifier"];
        assert_eq!(ids[0]["system"], PATIENT_SYSTEM);
        assert_eq!(ids[0]["value"], "p-9");
        assert_eq!(ids[1]["system"], "urn:oid:2.999.1");
        assert_eq!(ids[1]["value"], "MRN-7");
        assert_eq!(ids[1]["type"]["coding"][0]["code"], "MR");
        // Every Areya code used is in the Bundle's CodeSystem; kinds are spelled as the API does.
        let cs = &entries[1]["resource"];
        assert_eq!(cs["url"], CODE_SYSTEM);
        let known: Vec<&str> = cs["concept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        let used: Vec<&str> = all
            .iter()
            .filter(|o| o.get("system").and_then(Value::as_str) == Some(CODE_SYSTEM))
            .filter_map(|o| o.get("code")?.as_str())
            .collect();
        assert!(used.len() >= 20, "{used:?}");
        for c in used {
            assert!(known.contains(&c), "{c} is not in the CodeSystem");
        }
        let req = &entries[6]["resource"];
        assert_eq!(req["category"][0]["coding"][0]["code"], "alert");
        assert_eq!(
            req["category"][1]["coding"][0]["code"],
            "sustained_negative"
        );
        assert_eq!(req["recipient"][0]["identifier"]["value"], "assigned_nurse");
        assert!(entries[2..6]
            .iter()
            .all(|e| e["resource"]["category"][0]["coding"][0]["code"] == "survey"));
        let obs = &entries[2]["resource"];
        assert_eq!(obs["code"]["coding"][0]["system"], "http://snomed.info/sct");
        assert_eq!(obs["code"]["coding"][0]["code"], "248148002");
        assert_eq!(obs["effectivePeriod"]["start"], "1970-01-01T00:00:00.000Z");
        let neg = obs["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == "negative-share")
            .unwrap();
        assert_eq!(neg["valueQuantity"]["value"], 0.7);
        let comm = &entries[7]["resource"];
        assert_eq!(comm["basedOn"][0]["reference"], entries[6]["fullUrl"]);
        assert!(comm["payload"][0]["contentString"]
            .as_str()
            .unwrap()
            .contains("not actionable: visitor just left"));
        assert_eq!(entries[6]["resource"]["status"], "active");
        // A patient nobody could see: the request is on hold and says since when.
        book.cannot_assess(1, 3 * MINUTE, 14 * MINUTE);
        let blind: Vec<Alert> = book.open_alerts().cloned().collect();
        let b2 = bundle(
            &p,
            &mrn,
            &windows,
            &[state.assess(3 * MINUTE)],
            &blind,
            15 * MINUTE,
            &[],
        );
        let req = &b2["entry"][6]["resource"];
        assert_eq!(req["status"], "on-hold");
        assert_eq!(
            req["statusReason"]["text"],
            "cannot assess: face not seen since 1970-01-01T00:03:00.000Z"
        );
        // Stable: the same input exports the same bundle.
        assert_eq!(
            b,
            bundle(
                &p,
                &mrn,
                &windows,
                &[state.assess(3 * MINUTE)],
                &alerts,
                5 * MINUTE,
                &[]
            )
        );
        // With the days of the stay: one Observation a day, every code in the CodeSystem.
        let zone = areya_core::time::WardZone::utc();
        let days = crate::stay::days_in(&windows, &[], &alerts, &zone, (0, 5 * MINUTE));
        assert_eq!(days.len(), 1);
        let b3 = bundle(&p, &mrn, &windows, &[], &alerts, 5 * MINUTE, &days);
        let last = b3["entry"].as_array().unwrap().last().unwrap()["resource"].clone();
        assert_eq!(last["code"]["coding"][1]["code"], "emotion-day");
        assert_eq!(last["effectivePeriod"]["start"], "1970-01-01T00:00:00.000Z");
        let known: Vec<String> = codes().into_iter().map(|c| c.0).collect();
        for comp in last["component"].as_array().unwrap() {
            let c = comp["code"]["coding"][0]["code"].as_str().unwrap();
            assert!(known.iter().any(|k| k == c), "{c} is not in the CodeSystem");
        }
        let raised = last["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == "alerts-raised")
            .unwrap();
        assert_eq!(raised["valueInteger"], 1);
    }
}
