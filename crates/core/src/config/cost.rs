//! `[cost]`: prices that replace or extend the shipped on-demand list prices
//! ([`crate::cost::ON_DEMAND`]): a region's own price, a discount, a Savings Plan rate.

use crate::cost::Rules;
use crate::doc::Section;

pub fn cost(s: &mut Section<'_, '_>) -> Option<Rules> {
    let prices = s.number_map("prices");
    let storage = s.opt_float("storage_gb_month");
    let transfer = s.opt_float("transfer_gb");
    let mut ok = true;
    for (key, v) in [("storage_gb_month", &storage), ("transfer_gb", &transfer)] {
        if let Some(v) = v
            && !(v.value >= 0.0 && v.value.is_finite())
        {
            s.error(v.offset, key, "a price of 0 or more (USD)");
            ok = false;
        }
    }
    let prices = match (s.has("prices"), prices) {
        (true, None) => return None,
        (_, p) => p.unwrap_or_default(),
    };
    ok.then(|| Rules {
        prices: prices.into_iter().map(|(k, v)| (k, v.value)).collect(),
        storage_gb_month: storage.map(|v| v.value),
        transfer_gb: transfer.map(|v| v.value),
    })
}
