//! Random bytes from the operating system, the only source Cloakroom uses for secrets.

/// The operating system could not provide random bytes.
///
/// This is rare (an early-boot machine, a sandbox without `getrandom`), and fatal for anything
/// that needs a secret, so it is reported instead of falling back to a weaker source.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(getrandom::Error);

/// Fills `buf` with random bytes from the operating system.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(RandomError)
}

/// `N` random bytes from the operating system.
pub fn bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    fill(&mut buf)?;
    Ok(buf)
}
