//! GLPI 11's webhooks: a call signed `X-GLPI-signature: hex(HMAC-SHA256(body + timestamp))`
//! with the webhook's secret and `X-GLPI-timestamp`, whose body names an item (`item.id`, or
//! for a follow-up or solution its ticket in `parent_item.id`). The ticket is then read from
//! GLPI's database; see [`crate::systems::hook`] for why the payload is never trusted.

use chrono::Utc;
use serde_json::Value;

use super::Glpi;
use crate::store::Store;
use crate::systems::hook::{hmac_sha256_matches, read_once, Delivery, HookError, Receipt};

/// How old a call's timestamp may be: GLPI queues its calls and sends them about every
/// minute, retrying a failed one later with the timestamp it first signed.
const OLDEST_SECS: i64 = 24 * 3600;
/// How far ahead of this machine's clock a timestamp may be (clocks drift).
const AHEAD_SECS: i64 = 300;

impl Glpi {
    pub async fn receive(
        &self,
        store: &Store,
        delivery: Delivery<'_>,
    ) -> Result<Receipt, HookError> {
        let secret = &self.config.webhook_secret;
        if secret.is_empty() {
            return Err(HookError::Off("glpi".into()));
        }
        let signature = delivery.header("x-glpi-signature");
        let timestamp = delivery.header("x-glpi-timestamp").unwrap_or_default();
        let parts: [&[u8]; 2] = [delivery.body, timestamp.as_bytes()];
        if !hmac_sha256_matches(secret, &parts, signature) {
            return Err(HookError::Signature);
        }
        // Signed with the body: a call replayed later than a day is refused outright.
        let age = timestamp
            .trim()
            .parse::<i64>()
            .map(|t| Utc::now().timestamp() - t)
            .map_err(|_| HookError::Signature)?;
        if !(-AHEAD_SECS..=OLDEST_SECS).contains(&age) {
            return Err(HookError::Signature);
        }
        let body: Value = serde_json::from_slice(delivery.body)
            .map_err(|e| HookError::Malformed(e.to_string()))?;
        let ticket = ["parent_item", "item"]
            .iter()
            .find_map(|key| {
                body.get(key)
                    .and_then(|i| i.get("id"))
                    .and_then(Value::as_i64)
            })
            .ok_or_else(|| HookError::Malformed("no item.id".into()))?;
        // GLPI retries a call with its first headers: the signature names the delivery.
        read_once(
            &self.deliveries,
            signature,
            ticket,
            self.pull_ticket(store, ticket),
        )
        .await
    }
}
