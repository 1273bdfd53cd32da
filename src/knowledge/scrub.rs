//! Removing personal data from text that is about to be shown to others (draft articles):
//! e-mail addresses, phone numbers, IP addresses and the names of the people involved.

use std::sync::LazyLock;

use regex::Regex;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@[\w-]+(\.[\w-]+)+").expect("valid pattern"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\b")
        .expect("valid pattern")
});
/// Eight groups in full, or fewer around a `::`; not a time of day like 10:30:45.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|(?:\b[0-9a-fA-F]{1,4}:)*(?:[0-9a-fA-F]{1,4})?::(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{1,4}\b",
    )
    .expect("valid pattern")
});
/// Seven or more digits, possibly with a leading + and spaces, dots, dashes or parentheses
/// between them: phone numbers in the forms people write them, not dates or ticket numbers.
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\+|\b)\d([\s().-]{0,2}\d){6,}\b").expect("valid pattern"));

/// A date or a date and time, which the phone pattern would otherwise take.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}([ T]\d{1,2}(:\d{2}){0,2})?$")
        .expect("valid pattern")
});

/// One pattern for all of `names` (whole words, any case), to scrub many texts with.
pub fn names_pattern(names: &[String]) -> Option<Regex> {
    let mut words: Vec<&String> = names.iter().filter(|n| n.chars().count() >= 2).collect();
    if words.is_empty() {
        return None;
    }
    // Longest first, so that a name is not cut short by a shorter one it starts with.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words.dedup();
    let alternatives: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    let pattern = format!(r"(?i)\b(?:{})\b", alternatives.join("|"));
    Some(Regex::new(&pattern).expect("escaped names make a valid pattern"))
}

/// Text with personal data replaced by placeholders; `names` is [`names_pattern`] of the words
/// of people's names to remove (from the requesters' addresses: `isabel.moreno@…` gives
/// Isabel, Moreno).
pub fn scrub_with(text: &str, names: Option<&Regex>) -> String {
    let text = EMAIL.replace_all(text, "[e-mail]");
    let text = IPV6.replace_all(&text, "[address]");
    let text = IPV4.replace_all(&text, "[address]");
    let mut text = PHONE
        .replace_all(&text, |c: &regex::Captures<'_>| {
            let digits = &c[0];
            if DATE.is_match(digits) {
                digits.to_owned()
            } else {
                "[phone]".to_owned()
            }
        })
        .into_owned();
    if let Some(names) = names {
        text = names.replace_all(&text, "[name]").into_owned();
    }
    text
}

/// The name words a requester field gives: `isabel.moreno@corp.example` or `Isabel Moreno`
/// gives `Isabel` and `Moreno`.
pub fn name_words(requester: &str) -> Vec<String> {
    let person = requester.split('@').next().unwrap_or_default();
    person
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str, names: &[String]) -> String {
        scrub_with(text, names_pattern(names).as_ref())
    }

    #[test]
    fn planted_personal_data_is_removed_and_the_rest_kept() {
        let names = name_words("priya.raman@corvane.example");
        let text =
            "Priya Raman (priya.raman@corvane.example, +44 20 7946 0958, ext 0113 496 0000) \
                    on 10.20.30.40 and fe80::1ff:fe23:4567:890a: reinstalled the VPN client 5.2 \
                    on 2026-10-14 at 10:30:45, ticket 4102. Thanks, Priya";
        let clean = scrub(text, &names);
        for planted in [
            "Priya",
            "Raman",
            "priya.raman@",
            "7946",
            "0113 496 0000",
            "10.20.30.40",
            "fe80",
        ] {
            assert!(!clean.contains(planted), "{planted} left in: {clean}");
        }
        for kept in [
            "reinstalled the VPN client 5.2",
            "2026-10-14",
            "ticket 4102",
        ] {
            assert!(clean.contains(kept), "{kept} lost: {clean}");
        }
    }

    #[test]
    fn names_come_from_addresses_and_display_names() {
        assert_eq!(
            name_words("isabel.moreno@corvane.example"),
            ["isabel", "moreno"]
        );
        assert_eq!(name_words("Jo O'Neil"), ["Jo", "Neil"]);
    }
}
