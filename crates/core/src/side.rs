//! The two regions every step, record and value refers to.

/// Which region a step or value refers to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Primary,
    Standby,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Primary => "primary",
            Side::Standby => "standby",
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Primary => Side::Standby,
            Side::Standby => Side::Primary,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
