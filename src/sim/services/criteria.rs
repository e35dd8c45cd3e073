//! `findingCriteria.criterion` and `sortCriteria` as GuardDuty and Macie share them: a map from a
//! field name to a condition of list and comparison operators, and one attribute to sort on.
//! Each service brings its own field names, operator spellings, number type and error answers.

use serde_json::{Map, Value};

use crate::sim::wire;

/// A condition operator, whatever the service calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// The numbers a service's numeric fields compare as.
pub trait Number: Copy + PartialOrd + std::str::FromStr {
    /// A comparison operand, which the wire carries as a whole number.
    fn from_whole(n: i64) -> Self;
}

/// GuardDuty compares doubles (`severity` is one).
impl Number for f64 {
    fn from_whole(n: i64) -> f64 {
        n as f64
    }
}

/// Macie compares 64-bit integers.
impl Number for i64 {
    fn from_whole(n: i64) -> i64 {
        n
    }
}

/// How one service spells its criteria: implemented by the service's field enum.
pub trait Dialect: Copy {
    type Number: Number;
    /// The field a criterion key names, among those the simulator knows.
    fn field(name: &str) -> Option<Self>;
    /// Whether the field compares as a number (and so takes the comparison operators).
    fn is_numeric(self) -> bool;
    /// The operator a condition key names.
    fn operator(name: &str) -> Option<Operator>;
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug)]
enum Test<N> {
    In(Vec<String>),
    NotIn(Vec<String>),
    NumIn(Vec<N>),
    NumNotIn(Vec<N>),
    Cmp(Bound, N),
}

/// One field's condition: every operator in it must hold.
#[derive(Debug)]
pub struct Criterion<F: Dialect> {
    field: F,
    tests: Vec<Test<F::Number>>,
}

impl<F: Dialect> Criterion<F> {
    /// Whether a finding meets the condition, given how to read a field of it as text and as
    /// a number.
    pub fn matches(&self, text: impl Fn(F) -> String, number: impl Fn(F) -> F::Number) -> bool {
        self.tests.iter().all(|t| match t {
            Test::In(values) => values.contains(&text(self.field)),
            Test::NotIn(values) => !values.contains(&text(self.field)),
            Test::NumIn(values) => values.contains(&number(self.field)),
            Test::NumNotIn(values) => !values.contains(&number(self.field)),
            Test::Cmp(bound, v) => {
                let x = number(self.field);
                match bound {
                    Bound::Gt => x > *v,
                    Bound::Gte => x >= *v,
                    Bound::Lt => x < *v,
                    Bound::Lte => x <= *v,
                }
            }
        })
    }
}

/// Why `findingCriteria` was refused, naming the criterion key; the service words the 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriteriaError<'a> {
    /// `criterion` is not an object.
    NotAnObject,
    /// A key that names no field the simulator knows.
    UnknownField(&'a str),
    /// A field's condition is not an object.
    ConditionNotAnObject(&'a str),
    /// An operator the service does not have, or a value it does not take.
    InvalidValue(&'a str),
    /// A condition with no operator.
    Empty(&'a str),
}

/// Parses `findingCriteria.criterion` of `body`; no criteria when either is absent.
pub fn parse<F: Dialect>(
    body: &Map<String, Value>,
) -> Result<Vec<Criterion<F>>, CriteriaError<'_>> {
    let Some(criteria) = body.get("findingCriteria") else {
        return Ok(Vec::new());
    };
    let Some(criterion) = criteria.get("criterion") else {
        return Ok(Vec::new());
    };
    let Value::Object(criterion) = criterion else {
        return Err(CriteriaError::NotAnObject);
    };
    let mut out = Vec::new();
    for (name, condition) in criterion {
        let Some(field) = F::field(name) else {
            return Err(CriteriaError::UnknownField(name));
        };
        let Value::Object(condition) = condition else {
            return Err(CriteriaError::ConditionNotAnObject(name));
        };
        let invalid = CriteriaError::InvalidValue(name);
        let mut tests = Vec::new();
        for (op, value) in condition {
            let test = match F::operator(op).ok_or(invalid)? {
                operator @ (Operator::Eq | Operator::Neq) => {
                    let strings = wire::string_list(value).ok_or(invalid)?;
                    let negated = operator == Operator::Neq;
                    if field.is_numeric() {
                        let numbers: Option<Vec<F::Number>> =
                            strings.iter().map(|s| s.parse().ok()).collect();
                        let numbers = numbers.ok_or(invalid)?;
                        if negated {
                            Test::NumNotIn(numbers)
                        } else {
                            Test::NumIn(numbers)
                        }
                    } else if negated {
                        Test::NotIn(strings)
                    } else {
                        Test::In(strings)
                    }
                }
                operator => {
                    if !field.is_numeric() {
                        return Err(invalid);
                    }
                    let v = F::Number::from_whole(value.as_i64().ok_or(invalid)?);
                    let bound = match operator {
                        Operator::Gt => Bound::Gt,
                        Operator::Gte => Bound::Gte,
                        Operator::Lt => Bound::Lt,
                        _ => Bound::Lte,
                    };
                    Test::Cmp(bound, v)
                }
            };
            tests.push(test);
        }
        if tests.is_empty() {
            return Err(CriteriaError::Empty(name));
        }
        out.push(Criterion { field, tests });
    }
    Ok(out)
}

/// Why `sortCriteria` was refused; the service words the 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortError {
    NotAnObject,
    /// `orderBy` is neither ASC nor DESC.
    OrderBy,
    /// `attributeName` is not one the service sorts on.
    AttributeName,
}

/// Parses `sortCriteria` of `body`: the attribute (one of `attributes`) and whether it is
/// descending, ASC unless told DESC. `None` when it names no attribute.
pub fn parse_sort<'b>(
    body: &'b Map<String, Value>,
    attributes: &[&str],
) -> Result<Option<(&'b str, bool)>, SortError> {
    let Some(sort) = body.get("sortCriteria") else {
        return Ok(None);
    };
    let Value::Object(sort) = sort else {
        return Err(SortError::NotAnObject);
    };
    let descending = match sort.get("orderBy").map(|v| v.as_str()) {
        None | Some(Some("ASC")) => false,
        Some(Some("DESC")) => true,
        _ => return Err(SortError::OrderBy),
    };
    match sort.get("attributeName").map(|v| v.as_str()) {
        None => Ok(None),
        Some(Some(name)) if attributes.contains(&name) => Ok(Some((name, descending))),
        _ => Err(SortError::AttributeName),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Field {
        Name,
        Size,
    }

    impl Dialect for Field {
        type Number = i64;

        fn field(name: &str) -> Option<Field> {
            match name {
                "name" => Some(Field::Name),
                "size" => Some(Field::Size),
                _ => None,
            }
        }

        fn is_numeric(self) -> bool {
            self == Field::Size
        }

        fn operator(name: &str) -> Option<Operator> {
            match name {
                "eq" => Some(Operator::Eq),
                "neq" => Some(Operator::Neq),
                "gte" => Some(Operator::Gte),
                "lt" => Some(Operator::Lt),
                _ => None,
            }
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn criteria_select_and_refuse() {
        let b = body(json!({"findingCriteria": {"criterion": {
            "name": {"neq": ["b"]},
            "size": {"gte": 2, "lt": 5},
        }}}));
        let criteria = parse::<Field>(&b).unwrap();
        let rows = [("a", 1), ("a", 2), ("b", 3), ("c", 4), ("d", 5)];
        let kept: Vec<&str> = rows
            .iter()
            .filter(|(name, size)| {
                criteria.iter().all(|c| {
                    c.matches(
                        |f| match f {
                            Field::Name => (*name).to_owned(),
                            Field::Size => size.to_string(),
                        },
                        |_| *size,
                    )
                })
            })
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(kept, ["a", "c"]);

        for (criterion, err) in [
            (json!([]), CriteriaError::NotAnObject),
            (json!({"x": {}}), CriteriaError::UnknownField("x")),
            (
                json!({"size": 1}),
                CriteriaError::ConditionNotAnObject("size"),
            ),
            (json!({"size": {}}), CriteriaError::Empty("size")),
            (
                json!({"size": {"eq": ["1.5"]}}),
                CriteriaError::InvalidValue("size"),
            ),
            (
                json!({"name": {"gte": 1}}),
                CriteriaError::InvalidValue("name"),
            ),
            (
                json!({"size": {"gte": "1"}}),
                CriteriaError::InvalidValue("size"),
            ),
            (
                json!({"size": {"like": ["1"]}}),
                CriteriaError::InvalidValue("size"),
            ),
        ] {
            let b = body(json!({"findingCriteria": {"criterion": criterion}}));
            assert_eq!(parse::<Field>(&b).unwrap_err(), err);
        }
        assert!(parse::<Field>(&body(json!({}))).unwrap().is_empty());
    }

    #[test]
    fn sort_reads_attribute_and_order() {
        let attrs = ["size"];
        let sort = |v: Value| {
            parse_sort(&body(json!({ "sortCriteria": v })), &attrs)
                .map(|s| s.map(|(a, d)| (a.to_owned(), d)))
        };
        assert_eq!(
            sort(json!({"attributeName": "size"})),
            Ok(Some(("size".to_owned(), false)))
        );
        assert_eq!(
            sort(json!({"attributeName": "size", "orderBy": "DESC"})),
            Ok(Some(("size".to_owned(), true)))
        );
        assert_eq!(sort(json!({"orderBy": "DESC"})), Ok(None));
        assert_eq!(sort(json!({"orderBy": "UP"})), Err(SortError::OrderBy));
        assert_eq!(
            sort(json!({"attributeName": "name"})),
            Err(SortError::AttributeName)
        );
        assert_eq!(sort(json!(5)), Err(SortError::NotAnObject));
    }
}
