//! FNV-1a 64: a stable content digest for provenance (which runbook ran) and optimistic
//! concurrency (which version of a journal a writer read). Not for security.

pub fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}
