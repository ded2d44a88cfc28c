//! Case-name filters in the gtest style: `POSITIVE[-NEGATIVE]`, each side a `:`-separated
//! list of glob patterns where `*` matches any run of characters and `?` exactly one.
//!
//! `aidl.*` runs every AIDL case; `*:-bad_input.*` runs everything except the bad-input
//! cases; `*zero*:*stride*` runs the cases whose names contain either word.

/// A parsed `--filter` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    positive: Vec<String>,
    negative: Vec<String>,
}

impl Filter {
    /// Parses `POSITIVE[-NEGATIVE]`. An empty positive side means `*`.
    pub fn new(spec: &str) -> Self {
        let (positive, negative) = match spec.split_once('-') {
            Some((pos, neg)) => (pos, neg),
            None => (spec, ""),
        };
        let split = |side: &str| -> Vec<String> {
            side.split(':').filter(|p| !p.is_empty()).map(str::to_owned).collect()
        };
        let mut positive = split(positive);
        if positive.is_empty() {
            positive.push("*".to_owned());
        }
        Self { positive, negative: split(negative) }
    }

    /// A filter that selects every case.
    pub fn all() -> Self {
        Self::new("*")
    }

    /// Whether `name` is selected: it matches a positive pattern and no negative one.
    pub fn matches(&self, name: &str) -> bool {
        self.positive.iter().any(|p| glob_match(p, name))
            && !self.negative.iter().any(|p| glob_match(p, name))
    }
}

/// Matches `text` against `pattern` (`*` any run, `?` one character, everything else
/// literal). Iterative with one backtrack point, so the cost is O(pattern × text) at worst.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    // Position of the last `*` seen and the text position it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark_match_as_in_shells() {
        assert!(glob_match("*", ""));
        assert!(glob_match("aidl.*", "aidl.can_allocate"));
        assert!(glob_match("*zero*", "cpu.fresh_buffer_reads_all_zero"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("a*b*c", "aXXbYYbZc"));
        assert!(!glob_match("aidl.*", "mapper.count"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("abc", "abcd"));
        assert!(!glob_match("*x", "abc"));
    }

    #[test]
    fn filter_applies_positive_then_negative_lists() {
        let filter = Filter::new("aidl.*:mapper.*-*threads*");
        assert!(filter.matches("aidl.can_allocate"));
        assert!(filter.matches("mapper.count_0_to_4"));
        assert!(!filter.matches("mapper.eight_threads_for_three_seconds"));
        assert!(!filter.matches("cpu.zero"));
    }

    #[test]
    fn empty_positive_side_selects_everything() {
        let filter = Filter::new("-bad_input.*");
        assert!(filter.matches("aidl.can_allocate"));
        assert!(!filter.matches("bad_input.zero_dimensions"));
        assert!(Filter::all().matches("anything"));
    }
}
