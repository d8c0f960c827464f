//! The server's words in a person's language, for what it writes outside the dashboard (the
//! messages to pagers and phones): the dashboard's own catalogue (`assets/de.json`, keyed by
//! the English), so the page and the pager say the same.

use areya_core::{Arg, Words};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The German catalogue. It is part of the binary; a test checks it reads.
static DE: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| serde_json::from_str(include_str!("assets/de.json")).unwrap_or_default());

/// A language Areya speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    /// A person's language from the directory's `lang` (English when unset or unknown).
    pub fn of(code: Option<&str>) -> Lang {
        match code {
            Some("de") => Lang::De,
            _ => Lang::En,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }
}

/// `w` in `lang`: numbers and shares as the dashboard writes them (`43.200`, `68 %`).
pub fn say(w: &Words, lang: Lang) -> String {
    match lang {
        Lang::En => w.to_string(),
        Lang::De => german(w),
    }
}

fn german(w: &Words) -> String {
    let template = DE.get(&w.text).map_or(w.text.as_str(), String::as_str);
    w.fill(template, |a| match a {
        Arg::Text(s) => s.clone(),
        Arg::Int(n) => grouped(*n),
        Arg::Share { share } => format!("{}\u{a0}%", grouped((share * 100.0).round() as i64)),
        // "2026-12-06 21:00 UTC" reads the same in either language.
        Arg::At { .. } => a.to_string(),
        Arg::Said(w) => german(w),
    })
}

/// `43200` as German writes it: `43.200`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use areya_core::Emotion;
    use areya_monitor::notice::{Concern, DigestLine, NoticeSaid};
    use areya_monitor::state::Said;

    #[test]
    fn the_catalogue_reads() {
        assert!(DE.len() > 300, "{}", DE.len());
    }

    /// As the dashboard writes the same data in German (its browser test reads these pages).
    #[test]
    fn alert_reasons_and_notices_in_german() {
        let run = Said::Run {
            negative: 0.68,
            minutes: 12,
            mostly: Emotion::Sad,
            usual: Some(0.15),
        };
        assert_eq!(run.text(), "negative 68% for 12 min, mostly sad, usual 15%");
        assert_eq!(
            say(&run.words(), Lang::De),
            "negativ 68\u{a0}% seit 12 min, meist traurig, üblich 15\u{a0}%"
        );
        let digest = NoticeSaid::Digest {
            of: 6,
            look: vec![DigestLine {
                label: "bed-01 · p-1001".into(),
                concerns: vec![
                    Concern::Rising {
                        days: 3,
                        from: 0.1,
                        to: 0.3,
                    },
                    Concern::Alerts {
                        raised: 2,
                        actionable: 1,
                        not_actionable: 0,
                        unanswered: 1,
                    },
                ],
            }],
            settled: vec!["bed-02 · p-1002".into()],
            unwatched: vec![],
            since_last: false,
        };
        assert_eq!(
            digest.text(),
            "1 of your 6 patients needs a look (alerts since 24 h ago): bed-01 · p-1001: negative share rising for 3 days (10% → 30%); 2 alerts (1 acknowledged as actionable, 1 unanswered). Settled: bed-02 · p-1002."
        );
        assert_eq!(
            say(&digest.words(), Lang::De),
            "1 Ihrer 6 Patienten braucht einen Blick (Alarme seit 24 h): bed-01 · p-1001: negativer Anteil steigt seit 3 Tagen (10\u{a0}% → 30\u{a0}%); 2 Alarme (1 als handlungsrelevant quittiert, 1 unbeantwortet). Ruhig: bed-02 · p-1002."
        );
        assert_eq!(grouped(43_200), "43.200");
        assert_eq!(grouped(-1_000_000), "-1.000.000");
        assert_eq!(grouped(999), "999");
    }
}
