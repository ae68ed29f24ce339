//! The query strings of the list endpoints, parsed and checked.
//!
//! `GET /orders`: `status`, `customerEmail` or both (**at least one is required**: the orders
//! table is listed only through its two indexes, and a scan of every order is not offered;
//! without either the answer is 422 `BUSINESS_RULE`, since no parameter schema can say "one of
//! these two"; with both, the customer's orders in that status), `limit` (1 to 100, default 20),
//! `sortOrder` (`asc` or `desc`, default `desc`: newest first), `nextToken`. `GET /inventory`:
//! `limit`, `nextToken`.
//!
//! Names and enum values are case-sensitive (`status=PAID`, `sortOrder=asc`); a parameter that
//! is given twice or that the endpoint does not know is refused (a typo such as `sortorder`
//! would otherwise be ignored silently). An empty `nextToken=` counts as none, so that a
//! client can always send the token it last received. Values arrive URL-decoded (API Gateway
//! decodes them); every problem is a 400 `INVALID_QUERY`.

use infra_model::contract::api::{ErrorCode, OrderStatus, limits, patterns};

use crate::problem::ApiProblem;
use crate::text::{email_problem, matches, normalize_email};

/// The longest `nextToken` accepted.
pub const MAX_TOKEN_LEN: usize = limits::MAX_TOKEN;

/// The order of a listing by creation time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    #[default]
    Desc,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }

    /// DynamoDB's `ScanIndexForward`.
    pub fn scan_index_forward(self) -> bool {
        self == SortOrder::Asc
    }
}

/// Which orders to list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrdersFilter {
    /// Through the sharded `byStatus` index.
    Status(OrderStatus),
    /// Through the `byCustomer` index, optionally only the orders in one status; the e-mail
    /// is normalized (lower case).
    Customer {
        email: String,
        status: Option<OrderStatus>,
    },
}

/// `GET /orders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOrdersQuery {
    pub filter: OrdersFilter,
    pub limit: u32,
    pub sort_order: SortOrder,
    pub next_token: Option<String>,
}

/// `GET /inventory`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListInventoryQuery {
    pub limit: u32,
    pub next_token: Option<String>,
}

/// The parameters, each at most once and all known.
fn collect<'a, const N: usize>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    known: [&str; N],
) -> Result<[Option<&'a str>; N], ApiProblem> {
    let mut values: [Option<&'a str>; N] = [None; N];
    for (name, value) in params {
        let Some(i) = known.iter().position(|k| *k == name) else {
            let shown: String = name.chars().take(64).collect();
            return Err(ApiProblem::new(
                ErrorCode::InvalidQuery,
                format!(
                    "Unknown query parameter: {shown} (this endpoint takes {})",
                    known.join(", ")
                ),
            ));
        };
        if values[i].replace(value).is_some() {
            return Err(ApiProblem::invalid_query(name, "must be given at most once"));
        }
    }
    Ok(values)
}

fn parse_limit(value: Option<&str>) -> Result<u32, ApiProblem> {
    let Some(text) = value else {
        return Ok(limits::DEFAULT_PAGE);
    };
    let rule = format!("must be a whole number between 1 and {}", limits::MAX_PAGE);
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiProblem::invalid_query("limit", rule));
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=limits::MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ApiProblem::invalid_query("limit", rule)),
    }
}

/// A token of the form pages give ([`patterns::TOKEN`], at most [`MAX_TOKEN_LEN`]); whether
/// this API issued it for this query is [`crate::pagination`]'s to say (422).
fn parse_token(value: Option<&str>) -> Result<Option<String>, ApiProblem> {
    match value {
        None | Some("") => Ok(None),
        Some(t) if t.len() > MAX_TOKEN_LEN => Err(ApiProblem::invalid_query(
            "nextToken",
            format!("must be at most {MAX_TOKEN_LEN} characters"),
        )),
        Some(t) if !matches(patterns::TOKEN, t) => Err(ApiProblem::invalid_query(
            "nextToken",
            "must be the nextToken of the previous page, unchanged",
        )),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// `GET /orders`. `params` are the query string's pairs (API Gateway's
/// `multiValueQueryStringParameters` flattened, so that a repeated parameter is seen).
pub fn parse_list_orders_query<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ListOrdersQuery, ApiProblem> {
    let [status, email, limit, sort, token] = collect(
        params,
        ["status", "customerEmail", "limit", "sortOrder", "nextToken"],
    )?;
    let status = status
        .map(|s| {
            OrderStatus::parse(s).ok_or_else(|| {
                let names: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiProblem::invalid_query("status", format!("must be one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    let email = email
        .map(|e| match email_problem(e, limits::MAX_EMAIL) {
            Some(rule) => Err(ApiProblem::invalid_query("customerEmail", rule)),
            None => Ok(normalize_email(e)),
        })
        .transpose()?;
    let sort_order = match sort {
        None => SortOrder::default(),
        Some("asc") => SortOrder::Asc,
        Some("desc") => SortOrder::Desc,
        Some(_) => return Err(ApiProblem::invalid_query("sortOrder", "must be asc or desc")),
    };
    let limit = parse_limit(limit)?;
    let next_token = parse_token(token)?;
    // Every parameter is checked against its schema first (400); the rule that no schema can
    // state comes last (422).
    let filter = match (status, email) {
        (status, Some(email)) => OrdersFilter::Customer { email, status },
        (Some(status), None) => OrdersFilter::Status(status),
        (None, None) => {
            return Err(ApiProblem::new(
                ErrorCode::BusinessRule,
                "Give status, customerEmail or both: orders are listed by status or by customer, \
                 not all at once",
            ));
        }
    };
    Ok(ListOrdersQuery {
        filter,
        limit,
        sort_order,
        next_token,
    })
}

/// `GET /inventory`.
pub fn parse_list_inventory_query<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<ListInventoryQuery, ApiProblem> {
    let [limit, token] = collect(params, ["limit", "nextToken"])?;
    Ok(ListInventoryQuery {
        limit: parse_limit(limit)?,
        next_token: parse_token(token)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(q: &[(&str, &str)]) -> Result<ListOrdersQuery, ApiProblem> {
        parse_list_orders_query(q.iter().copied())
    }

    fn orders_err(q: &[(&str, &str)]) -> String {
        let p = orders(q).unwrap_err();
        assert_eq!((p.status, p.code), (400, ErrorCode::InvalidQuery), "{q:?}");
        p.message
    }

    #[test]
    fn defaults() {
        assert_eq!(
            orders(&[("status", "PAID")]).unwrap(),
            ListOrdersQuery {
                filter: OrdersFilter::Status(OrderStatus::Paid),
                limit: 20,
                sort_order: SortOrder::Desc,
                next_token: None,
            }
        );
        assert_eq!(
            parse_list_inventory_query([]).unwrap(),
            ListInventoryQuery {
                limit: 20,
                next_token: None
            }
        );
    }

    #[test]
    fn every_parameter() {
        let q = orders(&[
            ("customerEmail", "Ann@Example.com"),
            ("limit", "100"),
            ("sortOrder", "asc"),
            ("nextToken", "abc.def"),
        ])
        .unwrap();
        assert_eq!(
            q.filter,
            OrdersFilter::Customer {
                email: "ann@example.com".into(),
                status: None
            }
        );
        assert_eq!((q.limit, q.sort_order), (100, SortOrder::Asc));
        assert_eq!(q.next_token.as_deref(), Some("abc.def"));
        assert!(SortOrder::Asc.scan_index_forward());
        assert!(!SortOrder::Desc.scan_index_forward());
        assert_eq!(
            orders(&[("status", "PAID"), ("nextToken", "")])
                .unwrap()
                .next_token,
            None
        );
        for s in OrderStatus::ALL {
            assert_eq!(
                orders(&[("status", s.as_str())]).unwrap().filter,
                OrdersFilter::Status(s)
            );
        }
    }

    #[test]
    fn status_customer_or_both() {
        for q in [&[][..], &[("limit", "5")][..]] {
            let p = orders(q).unwrap_err();
            assert_eq!((p.status, p.code), (422, ErrorCode::BusinessRule), "{q:?}");
            assert!(
                p.message.starts_with("Give status, customerEmail or both"),
                "{p:?}"
            );
        }
        assert_eq!(
            orders(&[("status", "PAID"), ("customerEmail", "a@b.co")])
                .unwrap()
                .filter,
            OrdersFilter::Customer {
                email: "a@b.co".into(),
                status: Some(OrderStatus::Paid)
            }
        );
        assert_eq!(
            orders_err(&[("status", "PAID"), ("status", "SHIPPED")]),
            "Invalid field status: must be given at most once"
        );
    }

    #[test]
    fn a_token_of_the_wrong_form_is_a_bad_query() {
        for bad in ["abc", "a.b.c", "a b.c", "x."] {
            assert_eq!(
                orders_err(&[("status", "PAID"), ("nextToken", bad)]),
                "Invalid field nextToken: must be the nextToken of the previous page, unchanged",
                "{bad}"
            );
        }
        assert!(orders(&[("status", "PAID"), ("nextToken", "eyJ2IjoxfQ.c2ln")]).is_ok());
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            orders_err(&[("status", "paid")]),
            "Invalid field status: must be one of PENDING, RESERVED, REJECTED, PAID, SHIPPED, FAILED"
        );
        assert_eq!(
            orders_err(&[("customerEmail", "nope")]),
            "Invalid field customerEmail: must be a valid e-mail address such as name@example.com"
        );
        assert_eq!(
            orders_err(&[("status", "PAID"), ("sortOrder", "DESC")]),
            "Invalid field sortOrder: must be asc or desc"
        );
        for bad in [
            "0",
            "101",
            "-1",
            "+5",
            " 5",
            "5.0",
            "",
            "abc",
            "99999999999",
            "1e2",
        ] {
            assert_eq!(
                orders_err(&[("status", "PAID"), ("limit", bad)]),
                "Invalid field limit: must be a whole number between 1 and 100",
                "{bad:?}"
            );
        }
        assert_eq!(orders(&[("status", "PAID"), ("limit", "007")]).unwrap().limit, 7);
        let long = "x".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            orders_err(&[("status", "PAID"), ("nextToken", &long)]),
            "Invalid field nextToken: must be at most 4096 characters"
        );
    }

    #[test]
    fn unknown_parameters_are_refused() {
        assert_eq!(
            orders_err(&[("status", "PAID"), ("sortorder", "asc")]),
            "Unknown query parameter: sortorder (this endpoint takes status, customerEmail, limit, sortOrder, nextToken)"
        );
        let p = parse_list_inventory_query([("status", "PAID")]).unwrap_err();
        assert_eq!(
            p.message,
            "Unknown query parameter: status (this endpoint takes limit, nextToken)"
        );
        let p = parse_list_inventory_query([("limit", "0")]).unwrap_err();
        assert_eq!(
            p.message,
            "Invalid field limit: must be a whole number between 1 and 100"
        );
    }
}
