//! Finding ids that end in the finding's serial (GuardDuty's and Macie's 32 hex digits), so
//! `GetFindings` finds a finding again without an index.

use crate::sim::org::{Estate, Finding, Service, State};
use crate::sim::rng::Rng;
use crate::sim::wire::Ctx;

/// A finding's 32-hex id: 24 hex derived from the seed, the service's `domain` and the serial,
/// then the serial itself.
pub fn id(seed: u64, domain: u64, serial: u32) -> String {
    let mut r = Rng::derive(seed, &[domain, serial as u64]);
    format!(
        "{:016x}{:08x}{serial:08x}",
        r.next_u64(),
        r.next_u64() >> 32
    )
}

/// The finding `service` still serves (resolved ones are gone) under `id` in the caller's
/// account and region (or a member's, for the delegated administrator); `id_of` is how the service spells its ids.
pub fn lookup<'a>(
    estate: &'a Estate,
    ctx: &Ctx,
    service: Service,
    id: &str,
    id_of: fn(u64, u32) -> String,
) -> Option<&'a Finding> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let serial = u32::from_str_radix(id.get(24..)?, 16).ok()?;
    let f = estate
        .findings
        .get((serial as usize).checked_sub(1)?)
        .filter(|f| f.serial == serial)
        .or_else(|| estate.findings.iter().find(|f| f.serial == serial))?;
    (estate.sees(ctx.account, f.account as usize)
        && f.region as usize == ctx.region
        && f.service == service
        && f.state != State::Resolved
        && id_of(estate.seed, serial) == id)
        .then_some(f)
}

/// The served findings `ids` name, each once, in the order first asked for; ids of nothing
/// served are passed over.
pub fn lookup_all<'a>(
    estate: &'a Estate,
    ctx: &Ctx,
    service: Service,
    ids: &[String],
    id_of: fn(u64, u32) -> String,
) -> Vec<&'a Finding> {
    let mut found: Vec<&Finding> = Vec::new();
    for id in ids {
        if let Some(f) = lookup(estate, ctx, service, id, id_of)
            && !found.iter().any(|x| x.serial == f.serial)
        {
            found.push(f);
        }
    }
    found
}
