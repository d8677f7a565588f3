//! Trigger filters: the legacy `filter.attributes` and the `filters` dialect
//! (exact, prefix, suffix, all, any, not).

use std::collections::BTreeMap;

use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Event};
use serde::Deserialize;

/// One `filters` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub exact: BTreeMap<String, String>,
    #[serde(default)]
    pub prefix: BTreeMap<String, String>,
    #[serde(default)]
    pub suffix: BTreeMap<String, String>,
    #[serde(default)]
    pub all: Vec<Filter>,
    #[serde(default)]
    pub any: Vec<Filter>,
    #[serde(default)]
    pub not: Option<Box<Filter>>,
    /// CESQL expressions are not evaluated locally; a Trigger using one fails to load.
    #[serde(default)]
    pub cesql: Option<String>,
    /// Legacy `filter.attributes`: exact, where an empty value matches anything.
    #[serde(skip)]
    legacy: BTreeMap<String, String>,
}

impl Filter {
    pub fn legacy(attributes: BTreeMap<String, String>) -> Self {
        Self {
            legacy: attributes,
            ..Self::default()
        }
    }

    /// Whether this filter, or one inside it, is a CESQL expression.
    pub fn uses_cesql(&self) -> bool {
        self.cesql.is_some()
            || self.all.iter().chain(&self.any).any(Filter::uses_cesql)
            || self.not.as_ref().is_some_and(|f| f.uses_cesql())
    }

    pub fn matches(&self, event: &Event) -> bool {
        let value = |name: &str| attribute(event, name);
        self.exact
            .iter()
            .all(|(name, want)| value(name).is_some_and(|v| v == *want))
            && self
                .prefix
                .iter()
                .all(|(name, want)| value(name).is_some_and(|v| v.starts_with(want.as_str())))
            && self
                .suffix
                .iter()
                .all(|(name, want)| value(name).is_some_and(|v| v.ends_with(want.as_str())))
            && self
                .legacy
                .iter()
                .all(|(name, want)| want.is_empty() || value(name).is_some_and(|v| v == *want))
            && self.all.iter().all(|f| f.matches(event))
            && (self.any.is_empty() || self.any.iter().any(|f| f.matches(event)))
            && self.not.as_ref().is_none_or(|f| !f.matches(event))
    }
}

/// Every filter of a Trigger must match (no filters: everything matches).
pub fn matches_all(filters: &[Filter], event: &Event) -> bool {
    filters.iter().all(|f| f.matches(event))
}

/// A context attribute or extension as a string.
fn attribute(event: &Event, name: &str) -> Option<String> {
    match name {
        "id" => Some(event.id().to_string()),
        "source" => Some(event.source().to_string()),
        "type" => Some(event.ty().to_string()),
        "specversion" => Some(event.specversion().to_string()),
        "subject" => event.subject().map(String::from),
        "datacontenttype" => event.datacontenttype().map(String::from),
        "dataschema" => event.dataschema().map(|s| s.to_string()),
        "time" => event.time().map(|t| t.to_rfc3339()),
        extension => event.extension(extension).map(|value| match value {
            ExtensionValue::String(s) => s.clone(),
            ExtensionValue::Boolean(b) => b.to_string(),
            ExtensionValue::Integer(i) => i.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};

    fn event(ty: &str) -> Event {
        EventBuilderV10::new()
            .id("1")
            .source("/functions/create-task")
            .ty(ty)
            .extension("partitionkey", "7")
            .build()
            .unwrap()
    }

    fn parse(yaml: &str) -> Filter {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn prefix_exact_and_suffix() {
        assert!(parse("prefix: {type: task.}").matches(&event("task.created")));
        assert!(!parse("prefix: {type: task.}").matches(&event("order.created")));
        assert!(parse("exact: {partitionkey: '7'}").matches(&event("x")));
        assert!(!parse("exact: {partitionkey: '8'}").matches(&event("x")));
        assert!(parse("suffix: {type: .deleted}").matches(&event("task.deleted")));
        assert!(!parse("exact: {missing: x}").matches(&event("x")));
    }

    #[test]
    fn all_any_not() {
        let filter = parse("any: [{exact: {type: a}}, {exact: {type: b}}]");
        assert!(filter.matches(&event("b")));
        assert!(!filter.matches(&event("c")));
        assert!(parse("not: {exact: {type: a}}").matches(&event("b")));
        assert!(!parse("all: [{prefix: {type: t}}, {suffix: {type: x}}]").matches(&event("ty")));
    }

    #[test]
    fn unknown_filter_dialects_are_refused() {
        assert!(serde_norway::from_str::<Filter>("prefixes: {type: a}").is_err());
        assert!(parse("any: [{cesql: \"type = 'a'\"}]").uses_cesql());
    }

    #[test]
    fn legacy_attributes_treat_empty_as_any() {
        let filter = Filter::legacy(BTreeMap::from([
            ("type".to_string(), "task.created".to_string()),
            ("source".to_string(), String::new()),
        ]));
        assert!(filter.matches(&event("task.created")));
        assert!(!filter.matches(&event("task.updated")));
    }
}
