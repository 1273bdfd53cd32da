//! Zammad's webhook: a trigger's call, signed `X-Hub-Signature: sha1=HMAC-SHA1(body)` with the
//! webhook's token, naming a ticket (`ticket.id` in Zammad's default payload) that is then read
//! through the API. See [`crate::systems::hook`] for why the payload is never trusted.

use serde_json::Value;

use super::Zammad;
use crate::store::Store;
use crate::systems::hook::{hmac_sha1_matches, read_once, Delivery, HookError, Receipt};

impl Zammad {
    pub async fn receive(
        &self,
        store: &Store,
        delivery: Delivery<'_>,
    ) -> Result<Receipt, HookError> {
        let secret = &self.config.webhook_secret;
        if secret.is_empty() {
            return Err(HookError::Off("zammad".into()));
        }
        if !hmac_sha1_matches(secret, delivery.body, delivery.header("x-hub-signature")) {
            return Err(HookError::Signature);
        }
        let body: Value = serde_json::from_slice(delivery.body)
            .map_err(|e| HookError::Malformed(e.to_string()))?;
        // A custom payload (`{"ticket": {"id": "#{ticket.id}"}}`, a small one) sends text.
        let id = body.get("ticket").and_then(|t| t.get("id"));
        let ticket = id
            .and_then(Value::as_i64)
            .or_else(|| {
                id.and_then(Value::as_str)
                    .and_then(|s| s.trim().parse().ok())
            })
            .ok_or_else(|| HookError::Malformed("no ticket.id".into()))?;
        // Zammad sends a failed delivery again with the same id.
        let key = delivery.header("x-zammad-delivery");
        read_once(
            &self.deliveries,
            key,
            ticket,
            self.pull_ticket(store, ticket),
        )
        .await
    }
}
