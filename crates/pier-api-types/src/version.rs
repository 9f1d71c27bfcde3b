//! API versions, from the first path segment (`/2023-07-01/…`).

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    V2023_07_01,
    V2024_03_01,
    V2024_09_01,
    V2025_07_01,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 4] =
        [ApiVersion::V2023_07_01, ApiVersion::V2024_03_01, ApiVersion::V2024_09_01, ApiVersion::V2025_07_01];

    pub fn parse(s: &str) -> Option<ApiVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2023_07_01 => "2023-07-01",
            ApiVersion::V2024_03_01 => "2024-03-01",
            ApiVersion::V2024_09_01 => "2024-09-01",
            ApiVersion::V2025_07_01 => "2025-07-01",
        }
    }

    /// 2023-07-01 says "archived" where later versions say "disabled".
    pub fn archived_names(self) -> bool {
        self == ApiVersion::V2023_07_01
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_round_trip() {
        for v in ApiVersion::ALL {
            assert_eq!(ApiVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(ApiVersion::parse("2022-01-01"), None);
        assert!(ApiVersion::V2023_07_01.archived_names());
        assert!(!ApiVersion::V2024_03_01.archived_names());
    }
}
