//! The secrets that go with the ward directory: staff password hashes (argon2id PHC strings)
//! and the SHA-256 of device and integration tokens. They live beside the directory, never in
//! it, so a `Directory` can be shown, validated, exported or sent to another crate without a
//! secret in it. The store keeps both in one document per version, each hash next to the entry
//! it belongs to (the format earlier versions wrote); [`stored`] and [`read_stored`] convert.

use areya_monitor::directory::Directory;
use serde_json::Value;
use std::collections::BTreeMap;

/// Password and token hashes by staff, device and integration id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    passwords: BTreeMap<String, String>,
    devices: BTreeMap<String, String>,
    integrations: BTreeMap<String, String>,
}

/// A directory with its credentials, as a whole ward set-up is installed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    pub directory: Directory,
    pub credentials: Credentials,
}

impl Credentials {
    /// The password hash of `staff` (`None`: they cannot log in).
    pub fn password(&self, staff: &str) -> Option<&str> {
        self.passwords
            .get(staff)
            .map(String::as_str)
            .filter(|h| !h.is_empty())
    }

    pub fn set_password(&mut self, staff: &str, hash: String) {
        self.passwords.insert(staff.to_string(), hash);
    }

    pub fn set_device(&mut self, device: &str, token_hash: String) {
        self.devices.insert(device.to_string(), token_hash);
    }

    pub fn set_integration(&mut self, integration: &str, token_hash: String) {
        self.integrations
            .insert(integration.to_string(), token_hash);
    }

    /// The device whose token has this hash.
    pub fn device_by_token(&self, token_hash: &str) -> Option<&str> {
        by_token(&self.devices, token_hash)
    }

    /// The integration whose token has this hash.
    pub fn integration_by_token(&self, token_hash: &str) -> Option<&str> {
        by_token(&self.integrations, token_hash)
    }

    /// Only what `dir` still has (a removed person, device or integration loses its secret).
    pub fn pruned(mut self, dir: &Directory) -> Credentials {
        self.passwords
            .retain(|id, _| dir.staff.iter().any(|s| &s.id == id));
        self.devices
            .retain(|id, _| dir.devices.iter().any(|d| &d.id == id));
        self.integrations
            .retain(|id, _| dir.integrations.iter().any(|i| &i.id == id));
        self
    }

    /// Token hashes are 64 hex digits (SHA-256).
    pub fn validate(&self) -> Result<(), String> {
        let hex = |h: &str| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit());
        for (what, map) in [
            ("device", &self.devices),
            ("integration", &self.integrations),
        ] {
            if let Some((id, _)) = map.iter().find(|(_, h)| !hex(h)) {
                return Err(format!(
                    "{what} '{id}': token_hash must be 64 hex digits (SHA-256)"
                ));
            }
        }
        Ok(())
    }
}

fn by_token<'a>(map: &'a BTreeMap<String, String>, token_hash: &str) -> Option<&'a str> {
    if token_hash.is_empty() {
        return None;
    }
    map.iter()
        .find(|(_, h)| h.as_str() == token_hash)
        .map(|(id, _)| id.as_str())
}

/// The stored document: the directory with each hash next to its entry.
pub fn stored(dir: &Directory, cred: &Credentials) -> Result<String, serde_json::Error> {
    let mut v = serde_json::to_value(dir)?;
    for (list, field, map) in [
        ("staff", "password_hash", &cred.passwords),
        ("devices", "token_hash", &cred.devices),
        ("integrations", "token_hash", &cred.integrations),
    ] {
        for entry in v
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let hash = entry
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| map.get(id))
                .cloned();
            if let (Some(h), Some(o)) = (hash, entry.as_object_mut()) {
                o.insert(field.into(), Value::String(h));
            }
        }
    }
    serde_json::to_string(&v)
}

/// A stored document read back: the directory (its secrets left out) and the credentials.
pub fn read_stored(text: &str) -> Result<Registry, serde_json::Error> {
    let v: Value = serde_json::from_str(text)?;
    let directory: Directory = serde_json::from_value(v.clone())?;
    let mut credentials = Credentials::default();
    for (list, field, map) in [
        ("staff", "password_hash", &mut credentials.passwords),
        ("devices", "token_hash", &mut credentials.devices),
        ("integrations", "token_hash", &mut credentials.integrations),
    ] {
        for entry in v.get(list).and_then(Value::as_array).into_iter().flatten() {
            if let (Some(id), Some(h)) = (
                entry.get("id").and_then(Value::as_str),
                entry.get(field).and_then(Value::as_str),
            ) {
                if !h.is_empty() {
                    map.insert(id.to_string(), h.to_string());
                }
            }
        }
    }
    Ok(Registry {
        directory,
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use areya_monitor::directory::{Device, Role, Staff};

    #[test]
    fn secrets_are_stored_beside_their_entries_and_never_in_the_directory() {
        let dir = Directory {
            staff: vec![Staff::new("ana", "Ana", Role::Nurse, vec![])],
            devices: vec![Device {
                id: "edge".into(),
                ward: "w".into(),
            }],
            ..Directory::default()
        };
        let mut cred = Credentials::default();
        cred.set_password("ana", "$argon2id$x".into());
        cred.set_device("edge", "ab".repeat(32));
        cred.set_password("gone", "$argon2id$y".into());
        let text = stored(&dir, &cred).expect("stored");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        // The format earlier versions wrote, so their documents read and ours read there.
        assert_eq!(v["staff"][0]["password_hash"], "$argon2id$x");
        assert_eq!(v["devices"][0]["token_hash"], "ab".repeat(32));
        assert!(!text.contains("gone"));
        let back = read_stored(&text).expect("read");
        assert_eq!(back.directory, dir);
        assert_eq!(back.credentials, cred.clone().pruned(&dir));
        assert!(!serde_json::to_string(&back.directory)
            .expect("json")
            .contains("argon2"));
        assert_eq!(
            back.credentials.device_by_token(&"ab".repeat(32)),
            Some("edge")
        );
        assert_eq!(back.credentials.device_by_token(""), None);
        assert_eq!(back.credentials.password("ana"), Some("$argon2id$x"));
        cred.set_device("edge", "xyz".into());
        assert!(cred.validate().unwrap_err().contains("device 'edge'"));
    }
}
