//! FHIR R4 export of one patient's monitoring record as a `collection` Bundle: an Observation
//! per window (negative share, face coverage, class probabilities) and per attention score, a
//! CommunicationRequest per alert, a Communication per acknowledgement, and a Flag while an
//! alert is open. Ids are stable (derived from the content), so exporting twice gives the same
//! resources.

use crate::alerts::{Alert, AlertKind, AlertState};
use crate::rules::Priority;
use crate::state::Assessment;
use crate::window::WindowAggregate;
use areya_core::time::iso8601_utc;
use areya_core::PatientId;
use serde_json::{json, Value};

/// Areya's code system for its own observation and alert codes.
pub const CODE_SYSTEM: &str = "urn:areya:fhir:codes";
const UCUM: &str = "http://unitsofmeasure.org";

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

fn kind_text(k: AlertKind) -> &'static str {
    match k {
        AlertKind::SustainedNegative => "Sustained negative emotion",
        AlertKind::SourceOffline => "Bedside camera offline",
        AlertKind::NoFace => "No face seen",
        AlertKind::ModelError => "Emotion model error",
    }
}

/// The Bundle for `patient`.
pub fn bundle(
    patient: &PatientId,
    windows: &[WindowAggregate],
    scores: &[Assessment],
    alerts: &[Alert],
    now_ms: i64,
) -> Value {
    let subject = json!({"reference": format!("Patient/{patient}")});
    let mut entries = Vec::new();
    for w in windows.iter().filter(|w| &w.patient == patient) {
        let mut components = vec![
            json!({"code": code("face-coverage", "Face coverage"), "valueQuantity": ratio(w.coverage())}),
        ];
        if let (Some(neg), Some(mean)) = (w.negative(), w.mean()) {
            components.push(json!({"code": code("negative-share", "Negative emotion share (angry + sad)"), "valueQuantity": ratio(neg)}));
            for e in areya_core::Emotion::ALL {
                components.push(json!({"code": code(&format!("p-{e}"), &format!("Probability {e}")), "valueQuantity": ratio(mean.get(e) as f64)}));
            }
        }
        let id = stable_uuid(&format!("window/{patient}/{}", w.start_ms));
        entries.push(entry(
            &format!("window/{patient}/{}", w.start_ms),
            json!({
                "resourceType": "Observation", "id": id, "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
                "code": code("emotion-window", "Facial emotion window"),
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
                "code": code("attention-score", "Areya attention score"),
                "subject": subject,
                "effectiveDateTime": iso8601_utc(a.at_ms),
                "valueInteger": a.score,
                "interpretation": [{"text": format!("{:?}", a.status).to_lowercase()}],
                "note": [{"text": a.reason}],
            }),
        ));
    }
    for al in alerts.iter().filter(|a| &a.patient == patient) {
        let req_key = format!("alert/{}", al.id);
        let req_uuid = stable_uuid(&req_key);
        let open = al.state != AlertState::Resolved;
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
        let mut request = json!({
                "resourceType": "CommunicationRequest", "id": req_uuid,
                "status": status,
                "category": [code(&format!("{:?}", al.kind).to_lowercase(), kind_text(al.kind))],
                "priority": priority(al.priority),
                "subject": subject,
                "authoredOn": iso8601_utc(al.raised_ms),
                "payload": [{"contentString": format!("{}: {}", kind_text(al.kind), al.reason)}],
                "recipient": [{"display": format!("{:?}", al.notified)}],
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
                    "basedOn": [{"reference": format!("urn:uuid:{req_uuid}")}],
                    "subject": subject,
                    "sent": iso8601_utc(ack.at_ms),
                    "sender": {"display": ack.by},
                    "payload": [{"contentString": format!("Acknowledged ({verdict})")}],
                }),
            ));
        }
        if open {
            let key = format!("flag/{}", al.id);
            entries.push(entry(
                &key,
                json!({
                    "resourceType": "Flag", "id": stable_uuid(&key), "status": "active",
                    "code": code("areya-alert", kind_text(al.kind)),
                    "subject": subject,
                    "period": {"start": iso8601_utc(al.raised_ms)},
                }),
            ));
        }
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
        let b = bundle(&p, &windows, &[score], &alerts, 5 * MINUTE);

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
        for e in entries {
            let r = &e["resource"];
            assert_eq!(
                e["fullUrl"].as_str().unwrap()[9..],
                *r["id"].as_str().unwrap()
            );
            assert_eq!(r["subject"]["reference"], "Patient/p-9");
            assert!(r["status"].is_string());
        }
        let obs = &entries[0]["resource"];
        assert_eq!(obs["effectivePeriod"]["start"], "1970-01-01T00:00:00.000Z");
        let neg = obs["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == "negative-share")
            .unwrap();
        assert_eq!(neg["valueQuantity"]["value"], 0.7);
        let comm = &entries[5]["resource"];
        assert_eq!(comm["basedOn"][0]["reference"], entries[4]["fullUrl"]);
        assert!(comm["payload"][0]["contentString"]
            .as_str()
            .unwrap()
            .contains("not actionable: visitor just left"));
        assert_eq!(entries[4]["resource"]["status"], "active");
        // A patient nobody could see: the request is on hold and says since when.
        book.cannot_assess(1, 3 * MINUTE, 14 * MINUTE);
        let blind: Vec<Alert> = book.open_alerts().cloned().collect();
        let b2 = bundle(
            &p,
            &windows,
            &[state.assess(3 * MINUTE)],
            &blind,
            15 * MINUTE,
        );
        let req = &b2["entry"][4]["resource"];
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
                &windows,
                &[state.assess(3 * MINUTE)],
                &alerts,
                5 * MINUTE
            )
        );
    }
}
