//! Folders written whole or not at all: everything goes into a staging folder beside the
//! target, which is renamed into place only once complete. A failure (a full disk, say) removes
//! the staging folder and leaves the target as it was, so a retry starts clean.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};

/// ENOSPC and EDQUOT on Linux and macOS.
const DISK_FULL_CODES: [i32; 3] = [28, 122, 69];

/// Whether `err` (or anything in its chain) says that the disk or the quota is full. Errors
/// from libraries that only keep a debug rendering of the I/O error (safetensors inside tch)
/// are recognized by their text.
pub fn is_disk_full(err: &anyhow::Error) -> bool {
    let typed = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| DISK_FULL_CODES.contains(&code))
    });
    let text = format!("{err:?}");
    typed
        || text.contains("No space left on device")
        || text.contains("Disk quota exceeded")
        || text.contains("code: 28,")
        || text.contains("os error 28")
}

/// The message for a write that failed: plain words for a full disk, else the error itself.
pub fn plain_write_error(err: anyhow::Error, target: &Path) -> anyhow::Error {
    if is_disk_full(&err) {
        anyhow!(
            "the disk is full: could not write {} (nothing was left behind; free some space and try again)",
            target.display()
        )
    } else {
        err.context(format!("could not write {}", target.display()))
    }
}

fn sibling(dir: &Path, tag: &str) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .with_context(|| format!("{} does not name a folder", dir.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = dir.parent().unwrap_or(Path::new("."));
    Ok(parent.join(format!(".{name}.{tag}-{}", std::process::id())))
}

/// Writes the folder `dir` through `write`, which fills the staging folder it is given. An
/// existing `dir` is replaced only after the new one is complete.
pub fn write_dir<F>(dir: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    let staging = sibling(dir, "tmp")?;
    let attempt = (|| -> Result<()> {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir(&staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        write(&staging)?;
        replace_dir(&staging, dir)
    })();
    if let Err(err) = attempt {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(plain_write_error(err, dir));
    }
    Ok(())
}

/// Renames `from` onto `to`; an existing `to` is moved aside first and removed after.
fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if !to.exists() {
        std::fs::rename(from, to)?;
        return Ok(());
    }
    let old = sibling(to, "old")?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    std::fs::rename(to, &old)?;
    if let Err(err) = std::fs::rename(from, to) {
        let _ = std::fs::rename(&old, to);
        return Err(err.into());
    }
    std::fs::remove_dir_all(&old)
        .with_context(|| format!("cannot remove the previous {}", old.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ftune-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_keeps_the_old_folder() {
        let root = scratch("fail");
        let dir = root.join("out");
        write_dir(&dir, |d| Ok(std::fs::write(d.join("a"), "old")?)).unwrap();
        let err = write_dir(&dir, |d| {
            std::fs::write(d.join("a"), "half")?;
            Err(std::io::Error::from_raw_os_error(28).into())
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the disk is full: could not write"),
            "{err:#}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out")]);
        write_dir(&dir, |d| Ok(std::fs::write(d.join("b"), "new")?)).unwrap();
        assert!(!dir.join("a").exists());
        assert_eq!(std::fs::read_to_string(dir.join("b")).unwrap(), "new");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn disk_full_is_recognized_in_debug_renderings() {
        let e = anyhow!("{:?}", std::io::Error::from_raw_os_error(28));
        assert!(is_disk_full(&e));
        let other = anyhow!("{:?}", std::io::Error::from_raw_os_error(13));
        assert!(!is_disk_full(&other));
        assert!(plain_write_error(other, Path::new("/x"))
            .to_string()
            .starts_with("could not write /x"));
    }
}
