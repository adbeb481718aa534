//! Where a setting lives in a [`Config`]: a [`Field`] reads its value as a number (for its
//! range), copies it from one config to another (for recipes) and sets it from text (for
//! flags), all from the one path `field!(section.key)` gives.

use serde::de::{DeserializeOwned, IntoDeserializer};

use crate::config::{
    ColorMode, Config, Dense, DeviceChoice, Layout, ModelKind, OnHangup, Optimizer, Precision,
    Schedule,
};
use crate::duration::TimeBudget;
use crate::error::UsageError;

/// A setting's value as its range sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Whole(u64),
    Real(f64),
    /// Names, paths, flags: no range applies.
    Other,
}

/// How a field's type reads as a [`Number`].
pub trait AsNumber {
    fn as_number(&self) -> Number;
}

impl AsNumber for usize {
    fn as_number(&self) -> Number {
        Number::Whole(*self as u64)
    }
}

impl AsNumber for u32 {
    fn as_number(&self) -> Number {
        Number::Whole(u64::from(*self))
    }
}

impl AsNumber for u64 {
    fn as_number(&self) -> Number {
        Number::Whole(*self)
    }
}

impl AsNumber for f64 {
    fn as_number(&self) -> Number {
        Number::Real(*self)
    }
}

/// Types whose values have no range (names, paths, flags, choices).
macro_rules! no_number {
    ($($t:ty),*) => { $(impl AsNumber for $t { fn as_number(&self) -> Number { Number::Other } })* };
}
no_number!(
    bool,
    String,
    Optimizer,
    Schedule,
    ModelKind,
    Precision,
    Dense,
    Layout,
    DeviceChoice,
    ColorMode,
    OnHangup,
    TimeBudget
);

/// Where a setting lives in a [`Config`]: its key and how to read and copy its value.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// `section.key`, as in the file.
    pub key: &'static str,
    /// The value, as its range sees it.
    pub number: fn(&Config) -> Number,
    /// Set the value in the second config to the first's.
    pub copy: fn(&Config, &mut Config),
    /// Set the value from text, as a flag gives it (refused as the file's value would be,
    /// naming the key and the text, when it does not parse).
    pub set: fn(&mut Config, &str) -> Result<(), UsageError>,
}

/// The [`Field`] of `section.key`: its key text and accessors, from the one path.
macro_rules! field {
    ($section:ident . $key:ident) => {
        $crate::config::field::Field {
            key: concat!(stringify!($section), ".", stringify!($key)),
            number: |c| $crate::config::field::AsNumber::as_number(&c.$section.$key),
            copy: |from, to| to.$section.$key = from.$section.$key.clone(),
            set: |c, text| {
                let key = concat!(stringify!($section), ".", stringify!($key));
                c.$section.$key = $crate::config::field::FromText::from_text(text)
                    .map_err(|why| $crate::config::field::refused(key, text, &why))?;
                Ok(())
            },
        }
    };
}
pub(crate) use field;

/// `text` refused as the value of `key`, for the reason `why` (what the text should
/// have been, or the parser's own words).
pub fn refused(key: &str, text: &str, why: &str) -> UsageError {
    let sep = if why.starts_with("is not") { " " } else { ": " };
    UsageError(format!("{key} = {text:?}{sep}{why}"))
}

/// A field's type read from text, as a flag gives it: the reason when it does not parse.
pub trait FromText: Sized {
    fn from_text(text: &str) -> Result<Self, String>;
}

/// Types read by their own `FromStr`, with what the text should have been when it does
/// not parse (`None`: the parser's own reason).
macro_rules! by_from_str {
    ($($t:ty => $words:expr),*) => {
        $(impl FromText for $t {
            fn from_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|e| {
                    let words: Option<&str> = $words;
                    words.map_or_else(|| format!("{e}"), |w| format!("is not {w}"))
                })
            }
        })*
    };
}
by_from_str!(
    usize => Some(WHOLE),
    u32 => Some(WHOLE),
    u64 => Some(WHOLE),
    f64 => Some("a number (0.001, 1e-3, …)"),
    bool => Some("true or false"),
    ModelKind => None,
    DeviceChoice => None,
    TimeBudget => None
);

const WHOLE: &str = "a whole number (0, 1, 2, …)";

impl FromText for String {
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
}

/// Choices read as the file reads them (serde's names, "unknown variant" when wrong).
macro_rules! by_serde {
    ($($t:ty),*) => {
        $(impl FromText for $t {
            fn from_text(text: &str) -> Result<Self, String> {
                from_serde(text)
            }
        })*
    };
}
by_serde!(Optimizer, Schedule, Precision, Dense, Layout, ColorMode, OnHangup);

fn from_serde<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.into_deserializer();
    T::deserialize(de).map_err(|e| e.to_string())
}
