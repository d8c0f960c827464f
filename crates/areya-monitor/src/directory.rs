//! The ward directory: wards → beds → patients, the staff who work there (role, ward
//! assignment, the assigned nurse of each bed), and the edge devices whose cameras feed a bed.
//! One document, checked as a whole by [`Directory::validate`] before it is stored, so every
//! reference in it (bed → nurse, device → ward, source → bed) is known to resolve. It holds no
//! secret: passwords and token hashes are the server's (`areya_server::credentials`), so a
//! directory can be shown, logged or exported as it is.

use areya_core::{PatientId, SourceId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// What a member of staff may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Nurse,
    ChargeNurse,
    Doctor,
    Admin,
    /// An integration engine's token: reads its wards, changes nothing (never a person's
    /// role: see [`Integration`]).
    Integration,
}

impl Role {
    /// Admins see every ward; everyone else only the wards they are assigned to.
    pub fn sees_all_wards(self) -> bool {
        self == Role::Admin
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Nurse => "nurse",
            Role::ChargeNurse => "charge_nurse",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
            Role::Integration => "integration",
        }
    }
}

/// The languages the dashboard speaks.
pub const LANGUAGES: [&str; 2] = ["en", "de"];

/// A member of staff (their password is set through the password route, kept apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub wards: Vec<String>,
    /// The dashboard's language for them (one of [`LANGUAGES`]; the browser's when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

impl Staff {
    /// A member of staff in `wards` (none for an administrator or a doctor, who follow their
    /// own patients), reading the dashboard in their browser's language until they choose one.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        role: Role,
        wards: Vec<String>,
    ) -> Staff {
        Staff {
            id: id.into(),
            name: name.into(),
            role,
            wards,
            lang: None,
        }
    }
}

/// An identifier the hospital gives a patient (a medical record number and the system that
/// issues it), so an exported record links to the hospital's patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Identifier {
    /// The issuing system as a URI (e.g. `urn:oid:1.2.36.146.595.217.0.1`).
    pub system: String,
    pub value: String,
}

/// A bed: the patient in it (if any), the nurse assigned, and the camera sources that see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Bed {
    pub id: String,
    #[serde(default)]
    pub patient: Option<PatientId>,
    /// The hospital's identifiers of the patient in this bed (MRN, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patient_identifiers: Vec<Identifier>,
    #[serde(default)]
    pub assigned_nurse: Option<String>,
    /// The patient's attending doctor (a member of staff with the role doctor), who sees this
    /// patient wherever the bed is and hears about them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attending: Option<String>,
    /// Other doctors of the patient's team: they see the patient as the attending does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub care_team: Vec<String>,
    #[serde(default)]
    pub sources: Vec<SourceId>,
}

/// How a doctor stands to a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CareRole {
    Attending,
    Team,
}

impl Bed {
    /// How `doctor` stands to this bed's patient, if at all.
    pub fn care_role(&self, doctor: &str) -> Option<CareRole> {
        if self.patient.is_none() {
            None
        } else if self.attending.as_deref() == Some(doctor) {
            Some(CareRole::Attending)
        } else if self.care_team.iter().any(|d| d == doctor) {
            Some(CareRole::Team)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ward {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub beds: Vec<Bed>,
}

/// An integration engine's read-only access to some wards (`Authorization: Bearer TOKEN`),
/// audited under its id like a person, revoked by removing it (its token is kept apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub wards: Vec<String>,
}

/// An edge agent (`areya watch --server`): it may only ingest observations for its ward (its
/// bearer token is kept apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    pub id: String,
    pub ward: String,
}

/// The whole directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Directory {
    #[serde(default)]
    pub wards: Vec<Ward>,
    #[serde(default)]
    pub staff: Vec<Staff>,
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<Integration>,
}

/// A directory that contradicts itself; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("directory: {0}")]
pub struct DirectoryError(pub String);

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn unique<'a>(
    what: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<BTreeSet<&'a str>, DirectoryError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !name_ok(id) {
            return Err(DirectoryError(format!(
                "{what} id '{id}' must be 1–64 of letters, digits, '-', '_', '.'"
            )));
        }
        if !seen.insert(id) {
            return Err(DirectoryError(format!("{what} '{id}' appears twice")));
        }
    }
    Ok(seen)
}

impl Directory {
    /// Checks ids and every cross-reference.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let wards = unique("ward", self.wards.iter().map(|w| w.id.as_str()))?;
        unique("staff", self.staff.iter().map(|s| s.id.as_str()))?;
        unique("device", self.devices.iter().map(|d| d.id.as_str()))?;
        // An integration's id is its name in the audit log: never a person's.
        unique(
            "staff or integration",
            self.staff
                .iter()
                .map(|s| s.id.as_str())
                .chain(self.integrations.iter().map(|i| i.id.as_str())),
        )?;
        for i in &self.integrations {
            if i.name.trim().is_empty() {
                return Err(DirectoryError(format!(
                    "integration '{}' needs a name",
                    i.id
                )));
            }
            if i.wards.is_empty() {
                return Err(DirectoryError(format!(
                    "integration '{}' needs at least one ward",
                    i.id
                )));
            }
            if let Some(w) = i.wards.iter().find(|w| !wards.contains(w.as_str())) {
                return Err(DirectoryError(format!(
                    "integration '{}': ward '{w}' does not exist",
                    i.id
                )));
            }
        }
        unique(
            "bed",
            self.wards
                .iter()
                .flat_map(|w| w.beds.iter().map(|b| b.id.as_str())),
        )?;
        let mut patients = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for w in &self.wards {
            if w.name.trim().is_empty() {
                return Err(DirectoryError(format!("ward '{}' needs a name", w.id)));
            }
            for b in &w.beds {
                if !b.patient_identifiers.is_empty() && b.patient.is_none() {
                    return Err(DirectoryError(format!(
                        "bed '{}': patient_identifiers without a patient",
                        b.id
                    )));
                }
                for (i, id) in b.patient_identifiers.iter().enumerate() {
                    let at = format!("bed '{}': patient_identifiers[{i}]", b.id);
                    let uri = id.system.contains(':')
                        && id.system.len() <= 200
                        && !id
                            .system
                            .chars()
                            .any(|c| c.is_whitespace() || c.is_control());
                    if !uri {
                        return Err(DirectoryError(format!(
                            "{at}.system: '{}' is not a URI (like urn:oid:… or https://…)",
                            id.system.chars().take(80).collect::<String>()
                        )));
                    }
                    if id.value.trim().is_empty()
                        || id.value.len() > 64
                        || id.value.chars().any(char::is_control)
                    {
                        return Err(DirectoryError(format!("{at}.value: give 1–64 characters")));
                    }
                }
                if let Some(p) = &b.patient {
                    if !patients.insert(p.as_str()) {
                        return Err(DirectoryError(format!(
                            "patient '{p}' is in two beds (second: '{}')",
                            b.id
                        )));
                    }
                }
                if let Some(n) = &b.assigned_nurse {
                    let Some(s) = self.staff.iter().find(|s| &s.id == n) else {
                        return Err(DirectoryError(format!(
                            "bed '{}': assigned nurse '{n}' is not on the staff list",
                            b.id
                        )));
                    };
                    if !s.role.sees_all_wards() && !s.wards.contains(&w.id) {
                        return Err(DirectoryError(format!(
                            "bed '{}': assigned nurse '{n}' does not work on ward '{}'",
                            b.id, w.id
                        )));
                    }
                }
                let doctors = b.attending.iter().map(|d| ("attending", d));
                let mut team = BTreeSet::new();
                for (what, d) in doctors.chain(b.care_team.iter().map(|d| ("care_team", d))) {
                    if b.patient.is_none() {
                        return Err(DirectoryError(format!(
                            "bed '{}': {what} without a patient",
                            b.id
                        )));
                    }
                    let Some(s) = self.staff.iter().find(|s| &s.id == d) else {
                        return Err(DirectoryError(format!(
                            "bed '{}': {what} '{d}' is not on the staff list",
                            b.id
                        )));
                    };
                    if s.role != Role::Doctor {
                        return Err(DirectoryError(format!(
                            "bed '{}': {what} '{d}' is a {}, not a doctor",
                            b.id,
                            s.role.as_str()
                        )));
                    }
                    if !team.insert(d.as_str()) {
                        return Err(DirectoryError(format!(
                            "bed '{}': doctor '{d}' is named twice",
                            b.id
                        )));
                    }
                }
                for src in &b.sources {
                    if !sources.insert(src.as_str()) {
                        return Err(DirectoryError(format!(
                            "source '{src}' feeds two beds (second: '{}')",
                            b.id
                        )));
                    }
                }
            }
        }
        for s in &self.staff {
            if s.role == Role::Integration {
                return Err(DirectoryError(format!(
                    "staff '{}': the role integration is for integrations, not people",
                    s.id
                )));
            }
            if s.name.trim().is_empty() {
                return Err(DirectoryError(format!("staff '{}' needs a name", s.id)));
            }
            if let Some(l) = s.lang.as_deref().filter(|l| !LANGUAGES.contains(l)) {
                return Err(DirectoryError(format!(
                    "staff '{}': language '{l}' is not one of {}",
                    s.id,
                    LANGUAGES.join(", ")
                )));
            }
            if let Some(w) = s.wards.iter().find(|w| !wards.contains(w.as_str())) {
                return Err(DirectoryError(format!(
                    "staff '{}': ward '{w}' does not exist",
                    s.id
                )));
            }
        }
        for d in &self.devices {
            if !wards.contains(d.ward.as_str()) {
                return Err(DirectoryError(format!(
                    "device '{}': ward '{}' does not exist",
                    d.id, d.ward
                )));
            }
        }
        Ok(())
    }

    pub fn staff(&self, id: &str) -> Option<&Staff> {
        self.staff.iter().find(|s| s.id == id)
    }

    /// The ward and bed a patient is in.
    pub fn bed_of(&self, patient: &PatientId) -> Option<(&Ward, &Bed)> {
        self.wards.iter().find_map(|w| {
            w.beds
                .iter()
                .find(|b| b.patient.as_ref() == Some(patient))
                .map(|b| (w, b))
        })
    }

    /// The patients `doctor` attends or is on the team of, across every ward, in ward and bed
    /// order.
    pub fn patients_of(&self, doctor: &str) -> Vec<(&Ward, &Bed, CareRole)> {
        self.wards
            .iter()
            .flat_map(|w| {
                w.beds
                    .iter()
                    .filter_map(move |b| b.care_role(doctor).map(|r| (w, b, r)))
            })
            .collect()
    }

    /// The ward and bed a camera source feeds.
    pub fn bed_of_source(&self, source: &SourceId) -> Option<(&Ward, &Bed)> {
        self.wards.iter().find_map(|w| {
            w.beds
                .iter()
                .find(|b| b.sources.contains(source))
                .map(|b| (w, b))
        })
    }

    /// Whether `staff` may see ward `ward`.
    pub fn may_see(&self, staff: &Staff, ward: &str) -> bool {
        staff.role.sees_all_wards() || staff.wards.iter().any(|w| w == ward)
    }

    /// Whether `staff` may see the patient in `bed` of `ward`: through the ward, or as the
    /// patient's attending doctor or one of their team (in any ward).
    pub fn may_see_patient(&self, staff: &Staff, ward: &Ward, bed: &Bed) -> bool {
        self.may_see(staff, &ward.id)
            || (staff.role == Role::Doctor && bed.care_role(&staff.id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Directory {
        Directory {
            wards: vec![Ward {
                id: "w1".into(),
                name: "Ward 1".into(),
                beds: vec![Bed {
                    id: "b1".into(),
                    patient: Some(PatientId::parse("p1").unwrap()),
                    patient_identifiers: vec![],
                    assigned_nurse: Some("ana".into()),
                    attending: None,
                    care_team: vec![],
                    sources: vec![SourceId::parse("cam1").unwrap()],
                }],
            }],
            staff: vec![Staff::new("ana", "Ana", Role::Nurse, vec!["w1".into()])],
            devices: vec![Device {
                id: "edge1".into(),
                ward: "w1".into(),
            }],
            integrations: vec![],
        }
    }

    #[test]
    fn integrations_and_patient_identifiers_are_checked() {
        let integration = |wards: Vec<&str>| Integration {
            id: "hie".into(),
            name: "Interface engine".into(),
            wards: wards.into_iter().map(String::from).collect(),
        };
        let mut d = base();
        d.integrations.push(integration(vec!["w1"]));
        assert_eq!(d.validate(), Ok(()));
        for (edit, want) in [
            (
                Box::new(|d: &mut Directory| d.integrations[0].id = "ana".into())
                    as Box<dyn Fn(&mut Directory)>,
                "staff or integration 'ana' appears twice",
            ),
            (
                Box::new(|d: &mut Directory| d.integrations[0].wards = vec!["w9".into()]),
                "integration 'hie': ward 'w9' does not exist",
            ),
            (
                Box::new(|d: &mut Directory| d.integrations[0].wards.clear()),
                "needs at least one ward",
            ),
            (
                Box::new(|d: &mut Directory| d.staff[0].role = Role::Integration),
                "the role integration is for integrations, not people",
            ),
            (
                Box::new(|d: &mut Directory| d.staff[0].lang = Some("fr".into())),
                "staff 'ana': language 'fr' is not one of en, de",
            ),
            (
                Box::new(|d: &mut Directory| {
                    d.wards[0].beds[0].patient_identifiers = vec![Identifier {
                        system: "MRN".into(),
                        value: "1".into(),
                    }]
                }),
                "patient_identifiers[0].system: 'MRN' is not a URI",
            ),
            (
                Box::new(|d: &mut Directory| {
                    d.wards[0].beds[0].patient = None;
                    d.wards[0].beds[0].patient_identifiers = vec![Identifier {
                        system: "urn:oid:2.999".into(),
                        value: "1".into(),
                    }]
                }),
                "patient_identifiers without a patient",
            ),
        ] {
            let mut d = base();
            d.integrations.push(integration(vec!["w1"]));
            edit(&mut d);
            let err = d.validate().expect_err(want).to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn every_reference_must_resolve() {
        type Edit = fn(&mut Directory);
        let cases: [(&str, Edit, Option<&str>); 7] = [
            ("valid", |_| {}, None),
            (
                "dup ward",
                |d| d.wards.push(d.wards[0].clone()),
                Some("appears twice"),
            ),
            (
                "unknown nurse",
                |d| d.wards[0].beds[0].assigned_nurse = Some("bob".into()),
                Some("not on the staff list"),
            ),
            (
                "nurse off ward",
                |d| d.staff[0].wards.clear(),
                Some("does not work on ward"),
            ),
            (
                "staff unknown ward",
                |d| d.staff[0].wards.push("w9".into()),
                Some("ward 'w9' does not exist"),
            ),
            (
                "device unknown ward",
                |d| d.devices[0].ward = "w9".into(),
                Some("ward 'w9' does not exist"),
            ),
            (
                "bad id",
                |d| d.wards[0].id = "a b".into(),
                Some("1–64 of letters"),
            ),
        ];
        for (name, edit, want) in cases {
            let mut d = base();
            edit(&mut d);
            match (d.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{name}: {e}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn lookups() {
        let d = base();
        let p = PatientId::parse("p1").unwrap();
        assert_eq!(
            d.bed_of(&p).map(|(w, b)| (w.id.as_str(), b.id.as_str())),
            Some(("w1", "b1"))
        );
        let s = SourceId::parse("cam1").unwrap();
        assert_eq!(d.bed_of_source(&s).map(|(_, b)| b.id.as_str()), Some("b1"));
        assert!(d.may_see(&d.staff[0], "w1"));
        assert!(!d.may_see(&d.staff[0], "w2"));
    }

    fn with_doctors() -> Directory {
        let mut d = base();
        let doctor = |id: &str| Staff::new(id, format!("Dr {id}"), Role::Doctor, vec![]);
        d.staff.extend([doctor("lee"), doctor("kim")]);
        let mut w2 = d.wards[0].clone();
        w2.id = "w2".into();
        w2.beds[0].id = "b2".into();
        w2.beds[0].patient = Some(PatientId::parse("p2").unwrap());
        w2.beds[0].assigned_nurse = None;
        w2.beds[0].sources.clear();
        d.wards.push(w2);
        d.wards[0].beds[0].attending = Some("lee".into());
        d.wards[1].beds[0].attending = Some("kim".into());
        d.wards[1].beds[0].care_team = vec!["lee".into()];
        d
    }

    #[test]
    fn a_doctor_has_their_patients_across_wards_and_no_others() {
        let d = with_doctors();
        assert_eq!(d.validate(), Ok(()));
        let of = |doc: &str| -> Vec<(String, CareRole)> {
            d.patients_of(doc)
                .iter()
                .map(|(w, b, r)| (format!("{}/{}", w.id, b.id), *r))
                .collect()
        };
        assert_eq!(
            of("lee"),
            [
                ("w1/b1".to_string(), CareRole::Attending),
                ("w2/b2".to_string(), CareRole::Team)
            ]
        );
        assert_eq!(of("kim"), [("w2/b2".to_string(), CareRole::Attending)]);
        assert!(of("ana").is_empty(), "a nurse attends nobody");
        let kim = d.staff("kim").unwrap();
        assert!(!d.may_see_patient(kim, &d.wards[0], &d.wards[0].beds[0]));
        assert!(d.may_see_patient(kim, &d.wards[1], &d.wards[1].beds[0]));
        assert!(!d.may_see(kim, "w2"), "a patient is not the whole ward");
        // A nurse named in a bed's team still sees only through her wards.
        let ana = d.staff("ana").unwrap();
        assert!(!d.may_see_patient(ana, &d.wards[1], &d.wards[1].beds[0]));
    }

    #[test]
    fn doctors_named_on_a_bed_are_checked() {
        type Edit = Box<dyn Fn(&mut Directory)>;
        let cases: [(Edit, &str); 5] = [
            (
                Box::new(|d| d.wards[0].beds[0].attending = Some("nobody".into())),
                "bed 'b1': attending 'nobody' is not on the staff list",
            ),
            (
                Box::new(|d| d.wards[0].beds[0].attending = Some("ana".into())),
                "bed 'b1': attending 'ana' is a nurse, not a doctor",
            ),
            (
                Box::new(|d| d.wards[0].beds[0].care_team = vec!["lee".into()]),
                "bed 'b1': doctor 'lee' is named twice",
            ),
            (
                Box::new(|d| d.wards[1].beds[0].care_team = vec!["ghost".into()]),
                "bed 'b2': care_team 'ghost' is not on the staff list",
            ),
            (
                Box::new(|d| d.wards[1].beds[0].patient = None),
                "bed 'b2': attending without a patient",
            ),
        ];
        for (edit, want) in cases {
            let mut d = with_doctors();
            edit(&mut d);
            let got = d.validate().map_err(|e| e.to_string());
            assert_eq!(got, Err(format!("directory: {want}")), "{want}");
        }
    }
}
