//! Words for a person, in any language: an English sentence with named slots (`{field}`), and
//! the values that fill them. The sentence is the key of the dashboard's message catalogue, so a
//! client writes it in its reader's language; `Display` writes the English (logs, the CLI, the
//! stored audit text).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A sentence and its slots' values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Words {
    /// The English sentence with `{name}` slots: the catalogue's key.
    pub text: String,
    /// What fills each slot.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(no_recursion)]
    pub vars: BTreeMap<String, Arg>,
}

/// One slot's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Arg {
    /// Shown as it is: an id, a name, a value as a file wrote it.
    Text(String),
    /// A whole number, written in the reader's locale.
    Int(i64),
    /// A moment, written on the reader's clock.
    At { at_ms: i64 },
    /// A share (0.68), written as a whole percentage in the reader's locale ("68%", "68 %").
    Share { share: f64 },
    /// Words of their own (a reason, a phrase), translated in turn.
    #[schema(no_recursion)]
    Said(Box<Words>),
}

impl Words {
    /// A sentence without slots, or with slots filled by [`Words::with`].
    pub fn new(text: impl Into<String>) -> Words {
        Words {
            text: text.into(),
            vars: BTreeMap::new(),
        }
    }

    /// Fills the slot `name`.
    pub fn with(mut self, name: &str, value: impl Into<Arg>) -> Words {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    /// Nothing to say (an empty slot).
    pub fn nothing() -> Words {
        Words::new("")
    }

    /// `parts` one after another, `between` (a template of `{a}` and `{b}`, like `"{a}; {b}"`)
    /// joining each to the next; nothing for no parts.
    pub fn join(parts: impl IntoIterator<Item = Words>, between: &str) -> Words {
        parts
            .into_iter()
            .reduce(|a, b| Words::new(between).with("a", a).with("b", b))
            .unwrap_or_else(Words::nothing)
    }

    /// A share as a slot's value.
    pub fn share(x: f64) -> Arg {
        Arg::Share { share: x }
    }
}

impl Words {
    /// `template` (this sentence, or its translation) with each `{name}` of a slot this has
    /// filled by `arg`; braces around anything else stay as they are.
    pub fn fill(&self, template: &str, arg: impl Fn(&Arg) -> String) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let (before, slot) = rest.split_at(open);
            out.push_str(before);
            let filled = slot
                .find('}')
                .and_then(|close| Some((self.vars.get(&slot[1..close])?, close)));
            match filled {
                Some((value, close)) => {
                    out.push_str(&arg(value));
                    rest = &slot[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = &slot[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

impl fmt::Display for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fill(&self.text, Arg::to_string))
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Text(s) => f.write_str(s),
            Arg::Int(n) => write!(f, "{n}"),
            Arg::At { at_ms } => match jiff::Timestamp::from_millisecond(*at_ms) {
                Ok(t) => write!(f, "{}", t.strftime("%Y-%m-%d %H:%M UTC")),
                Err(_) => write!(f, "{at_ms} ms"),
            },
            Arg::Share { share } => write!(f, "{:.0}%", share * 100.0),
            Arg::Said(w) => write!(f, "{w}"),
        }
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}
impl From<Words> for Arg {
    fn from(w: Words) -> Arg {
        Arg::Said(Box::new(w))
    }
}
macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_arg!(i64, u64, u32, u8, usize);

/// A message that exists only in English (a value a file or a library wrote): shown as it is.
impl From<String> for Words {
    fn from(s: String) -> Words {
        Words::new(s)
    }
}
impl From<&str> for Words {
    fn from(s: &str) -> Words {
        Words::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_fills_every_slot_and_keeps_braces_it_cannot_fill() {
        let w = Words::new("{field}: {value} s is more than {what} ({max} s) {x}")
            .with("field", "escalation.max_snooze_s")
            .with("value", 90_000u64)
            .with("what", Words::new("a day"))
            .with("max", 86_400u64);
        assert_eq!(
            w.to_string(),
            "escalation.max_snooze_s: 90000 s is more than a day (86400 s) {x}"
        );
        assert_eq!(
            Words::new("at {t}")
                .with("t", Arg::At { at_ms: 0 })
                .to_string(),
            "at 1970-01-01 00:00 UTC"
        );
        assert_eq!(Words::new("{ unclosed").to_string(), "{ unclosed");
    }

    #[test]
    fn its_json_is_the_sentence_and_typed_values() {
        let w = Words::new("{a} {b} {c} {d}")
            .with("a", "p-1")
            .with("b", 3u32)
            .with("c", Arg::At { at_ms: 5 })
            .with("d", Words::new("actionable"));
        let json = serde_json::to_value(&w).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"text": "{a} {b} {c} {d}", "vars": {
                "a": "p-1", "b": 3, "c": {"at_ms": 5}, "d": {"text": "actionable"}}})
        );
        let back: Words = serde_json::from_value(json).expect("back");
        assert_eq!(back, w);
    }
}
