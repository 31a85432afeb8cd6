//! What kind of figure a report prints: typed, so code branches on the kind and never on a
//! string; the JSON carries the same snake_case words.

use std::fmt;

macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// How the RTO was obtained.
    RtoBasis {
        /// Traffic moved and the clock was read.
        Measured => "measured",
        /// A standby drill's would-be: measured parts plus modelled ones.
        DrillEstimate => "drill_estimate",
    }
}

words! {
    /// What the headline RTO is.
    Bound {
        /// Counted from the last good probe: the onset was no earlier, so the truth is no more.
        AtMost => "at_most",
        /// An operator's command started the clock.
        Exact => "exact",
        /// No good probe was seen before the streak: nothing bounds the onset from below.
        FromFirstFailing => "from_first_failing",
        /// A standby drill's would-be.
        Estimate => "estimate",
    }
}

words! {
    /// The effective RTO against the objective.
    Objective {
        Met => "met",
        Breached => "breached",
        /// A standby drill whose estimates' range spans the objective.
        Unproven => "unproven",
    }
}

words! {
    /// Where one part of a would-be RTO comes from.
    ComponentBasis {
        /// In this drill, or in the last failover on this setup.
        Measured => "measured",
        /// A stated model.
        Estimate => "estimate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_words_are_the_display_words() {
        for b in [
            Bound::AtMost,
            Bound::Exact,
            Bound::FromFirstFailing,
            Bound::Estimate,
        ] {
            assert_eq!(
                serde_json::to_value(b).unwrap(),
                serde_json::Value::String(b.to_string())
            );
        }
        assert_eq!(
            serde_json::to_value(RtoBasis::DrillEstimate).unwrap(),
            "drill_estimate"
        );
        assert_eq!(
            serde_json::from_str::<Objective>("\"unproven\"").unwrap(),
            Objective::Unproven
        );
    }
}
