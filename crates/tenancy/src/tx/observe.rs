//! Seeing every statement tenant transactions send, with its parameters, for tests and
//! diagnostics: a process-wide observer that [`set_query_observer`] installs once.
//!
//! A test uses it to prove a property of *every* query the product sends (for example that
//! each routes to one shard of a distributed cluster) rather than of a hand-kept list: it
//! drives the product, then replays what was seen. Parameters are kept in their binary wire
//! form ([`SentParam`]), which binds back into any statement expecting the same types. With no
//! observer installed, a statement costs one atomic load more.

use std::sync::OnceLock;

use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type};

use crate::id::TenantId;
use crate::pool::TypedParam;

/// One statement as sent.
#[derive(Clone, Debug)]
pub struct SentQuery {
    /// The tenant whose transaction sent it; `None` for [`crate::Tenancy::run_outside_tenant`].
    pub tenant: Option<TenantId>,
    /// The statement's text.
    pub sql: &'static str,
    /// Every parameter, `$1` (the tenant id, in a tenant transaction) first.
    pub params: Vec<SentParam>,
}

/// A parameter in its binary wire form, bindable again as a parameter of the same type.
#[derive(Clone, Debug)]
pub struct SentParam {
    /// The type it was sent as.
    pub sql_type: Type,
    /// `None` for SQL NULL.
    pub value: Option<Vec<u8>>,
}

impl ToSql for SentParam {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.value {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql_checked` below: it must be the type it was sent as.
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty != self.sql_type {
            return Err(format!("sent as {}, bound as {ty}", self.sql_type).into());
        }
        self.to_sql(ty, out)
    }
}

type Observer = Box<dyn Fn(SentQuery) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Installs the process-wide observer; `false` if one was installed already (it stays).
pub fn set_query_observer(observer: impl Fn(SentQuery) + Send + Sync + 'static) -> bool {
    OBSERVER.set(Box::new(observer)).is_ok()
}

/// Hands a statement about to be sent to the observer, if there is one.
pub(crate) fn sent(tenant: Option<TenantId>, sql: &'static str, params: &[TypedParam<'_>]) {
    let Some(observer) = OBSERVER.get() else {
        return;
    };
    let params = params
        .iter()
        .map(|(value, sql_type)| {
            let mut out = BytesMut::new();
            let value = match value.to_sql_checked(sql_type, &mut out) {
                Ok(IsNull::No) => Some(out.to_vec()),
                _ => None,
            };
            SentParam {
                sql_type: sql_type.clone(),
                value,
            }
        })
        .collect();
    observer(SentQuery {
        tenant,
        sql,
        params,
    });
}
