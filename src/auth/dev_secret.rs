//! Dev mode's generated JWT secret, kept in a file (`TANDEM_DEV_SECRET_FILE`)
//! so tokens stay valid across restarts. The file is created with mode 0600
//! and refused when others may read it.

use std::io::{ErrorKind, Write};
use std::path::Path;

use super::Secret;

/// Length of a generated secret (alphanumeric characters).
const GENERATED_LEN: usize = 48;

/// Where the secret in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from an existing file.
    Reused,
    /// Generated and written to a new file.
    Created,
}

/// A fresh random secret.
pub fn generate() -> Secret {
    use rand::distr::{Alphanumeric, SampleString};
    Secret::new(Alphanumeric.sample_string(&mut rand::rng(), GENERATED_LEN))
}

/// Reads the secret in `path`, or generates one and writes it there (0600,
/// parent directories created). A file shorter than `min_len` bytes (after
/// trimming whitespace) or readable by group or others is an error.
pub fn load_or_create(path: &Path, min_len: usize) -> Result<(Secret, Origin), String> {
    match read(path, min_len) {
        Ok(secret) => return Ok((secret, Origin::Reused)),
        Err(ReadError::Missing) => {}
        Err(ReadError::Bad(problem)) => return Err(problem),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let secret = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let mut text = String::from_utf8_lossy(secret.expose()).into_owned();
            text.push('\n');
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((secret, Origin::Created))
        }
        // Another process created it in between: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => match read(path, min_len) {
            Ok(secret) => Ok((secret, Origin::Reused)),
            Err(ReadError::Missing) => Err(format!("{} vanished while reading it", path.display())),
            Err(ReadError::Bad(problem)) => Err(problem),
        },
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

enum ReadError {
    Missing,
    Bad(String),
}

fn read(path: &Path, min_len: usize) -> Result<Secret, ReadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => {
            return Err(ReadError::Bad(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| ReadError::Bad(format!("cannot stat {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(ReadError::Bad(format!(
                "{} may be read by others (mode {:o}): run `chmod 600` on it",
                path.display(),
                mode & 0o777
            )));
        }
    }
    let secret = text.trim();
    if secret.len() < min_len {
        return Err(ReadError::Bad(format!(
            "{} holds a secret shorter than {min_len} bytes",
            path.display()
        )));
    }
    Ok(Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tandem-dev-secret-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn creates_once_with_0600_then_reuses() {
        let dir = temp_dir();
        let path = dir.join("sub").join("dev-secret");
        let (first, origin) = load_or_create(&path, 32).unwrap();
        assert_eq!(origin, Origin::Created);
        assert_eq!(first.expose().len(), GENERATED_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = load_or_create(&path, 32).unwrap();
        assert_eq!(origin, Origin::Reused);
        assert_eq!(again.expose(), first.expose());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn refuses_short_or_world_readable_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir();
        let path = dir.join("dev-secret");
        std::fs::write(&path, "short\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_create(&path, 32).unwrap_err().contains("shorter"));
        std::fs::write(&path, "x".repeat(40)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path, 32).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (secret, origin) = load_or_create(&path, 32).unwrap();
        assert_eq!((secret.expose().len(), origin), (40, Origin::Reused));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
