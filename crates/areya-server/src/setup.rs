//! First start and the demo ward. A server with an empty directory gets one admin (so somebody
//! can log in and configure it); `areya demo` gets a ward of 12 beds with staff and a device.

use crate::app::App;
use crate::auth::{hash_password, token_hash};
use crate::credentials::{Credentials, Registry};
use crate::error::AppError;
use areya_core::Words;
use areya_core::{PatientId, SourceId};
use areya_monitor::directory::{Bed, Device, Directory, Identifier, Role, Staff, Ward};
use areya_store::AuditAction;
use std::sync::Arc;

/// When the directory is empty, stores one admin (`admin`) with `password`. Returns whether it
/// did.
pub async fn bootstrap_admin(app: &Arc<App>, password: &str) -> Result<bool, AppError> {
    if app.directory_version() > 0 {
        return Ok(false);
    }
    let directory = Directory {
        staff: vec![Staff::new("admin", "Administrator", Role::Admin, vec![])],
        ..Directory::default()
    };
    let mut credentials = Credentials::default();
    credentials.set_password("admin", hash_password(password)?);
    let reg = Registry {
        directory,
        credentials,
    };
    app.set_registry(0, "setup", reg).await?;
    app.audit(
        "setup",
        AuditAction::CreateFirstAdmin,
        Words::new("staff {id}").with("id", "admin"),
        Words::nothing(),
    )
    .await?;
    Ok(true)
}

/// The demo's staff: (id, name, role). Every one logs in with the demo password.
pub const DEMO_STAFF: [(&str, &str, Role); 5] = [
    ("admin", "Administrator", Role::Admin),
    ("charge", "Charge nurse Rivera", Role::ChargeNurse),
    ("ana", "Nurse Ana Costa", Role::Nurse),
    ("ben", "Nurse Ben Okafor", Role::Nurse),
    ("drlee", "Dr Lee", Role::Doctor),
];

pub const DEMO_WARD: &str = "ward-4b";
/// The demo hospital's medical record numbers (an example OID, never a real hospital's).
pub const DEMO_MRN_SYSTEM: &str = "urn:oid:2.999.4242.1";
pub const DEMO_BEDS: usize = 12;

/// Patient id of demo bed `i` (0-based); the last bed is empty.
pub fn demo_patient(i: usize) -> Option<PatientId> {
    if i + 1 >= DEMO_BEDS {
        return None;
    }
    PatientId::parse(&format!("p-{:04}", 1001 + i)).ok()
}

pub fn demo_source(i: usize) -> SourceId {
    SourceId::parse(&format!("cam-{:02}", i + 1)).expect("letters, digits and '-' are valid")
}

/// A ward of `beds` beds, every bed with a patient (`p-1001`, …) and a camera (`cam-01`, …),
/// nurse `ana` assigned to all, and the demo device: for load tests and benchmarks.
pub fn large_ward(beds: usize, password_hash: &str, device_token: &str) -> Registry {
    let mut r = demo_directory(password_hash, device_token);
    r.directory.wards[0].beds = (0..beds)
        .map(|i| Bed {
            id: format!("bed-{:03}", i + 1),
            patient: PatientId::parse(&format!("p-{:04}", 1001 + i)).ok(),
            patient_identifiers: vec![],
            assigned_nurse: Some("ana".into()),
            attending: None,
            care_team: vec![],
            sources: vec![demo_source(i)],
        })
        .collect();
    r
}

/// The demo directory: ward 4B with 12 beds (beds 1–6 Ana's, 7–11 Ben's, 12 empty; Dr Lee
/// the attending of five), the demo staff, a second ward the nurses cannot see, and one edge
/// device.
pub fn demo_directory(password_hash: &str, device_token: &str) -> Registry {
    let beds = (0..DEMO_BEDS)
        .map(|i| Bed {
            id: format!("bed-{:02}", i + 1),
            patient: demo_patient(i),
            // A made-up medical record number under a documentation-only OID arc (2.999).
            patient_identifiers: demo_patient(i)
                .map(|_| Identifier {
                    system: DEMO_MRN_SYSTEM.into(),
                    value: format!("MRN-{:06}", 4_200 + i),
                })
                .into_iter()
                .collect(),
            assigned_nurse: Some(if i < 6 { "ana" } else { "ben" }.into()),
            // Dr Lee attends beds 1–4 and 8 (both nurses' patients) and is on bed 5's team.
            attending: matches!(i, 0..=3 | 7).then(|| "drlee".into()),
            care_team: if i == 4 { vec!["drlee".into()] } else { vec![] },
            sources: vec![demo_source(i)],
        })
        .collect();
    let staff = DEMO_STAFF
        .iter()
        .map(|(id, name, role)| {
            // A doctor sees their own patients wherever they lie, not whole wards.
            let wards = if matches!(*role, Role::Admin | Role::Doctor) {
                vec![]
            } else {
                vec![DEMO_WARD.into()]
            };
            Staff::new(*id, *name, *role, wards)
        })
        .collect();
    let mut credentials = Credentials::default();
    for (id, _, _) in DEMO_STAFF {
        credentials.set_password(id, password_hash.into());
    }
    credentials.set_device("edge-4b", token_hash(device_token));
    let directory = Directory {
        wards: vec![
            Ward {
                id: DEMO_WARD.into(),
                name: "Ward 4B — Internal medicine".into(),
                beds,
            },
            Ward {
                id: "ward-2a".into(),
                name: "Ward 2A — Surgery".into(),
                beds: vec![],
            },
        ],
        staff,
        devices: vec![Device {
            id: "edge-4b".into(),
            ward: DEMO_WARD.into(),
        }],
        integrations: vec![],
    };
    Registry {
        directory,
        credentials,
    }
}

/// Stores the demo directory (replacing whatever is there).
pub async fn install_demo(
    app: &Arc<App>,
    password: &str,
    device_token: &str,
) -> Result<(), AppError> {
    let hash = hash_password(password)?;
    app.set_registry(
        app.directory_version(),
        "demo",
        demo_directory(&hash, device_token),
    )
    .await?;
    app.audit(
        "demo",
        AuditAction::InstallDemoWard,
        Words::new("directory"),
        Words::nothing(),
    )
    .await?;
    Ok(())
}
