//! `[cost]`: prices that replace or extend the shipped on-demand list prices
//! (`crate::cost::ON_DEMAND`): a region's own price, a discount, a Savings Plan rate.

use std::collections::BTreeMap;

use crate::doc::Section;

/// `[cost]`: prices that replace or extend the shipped ones (`crate::cost::hourly`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    /// Instance type → USD per hour.
    pub prices: BTreeMap<String, f64>,
    /// USD per GB-month of the standby's artifact copies (default: S3 Standard).
    pub storage_gb_month: Option<f64>,
    /// USD per GB copied between the regions (default: between US regions).
    pub transfer_gb: Option<f64>,
}

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
