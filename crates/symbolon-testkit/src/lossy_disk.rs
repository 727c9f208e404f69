//! A disk that loses what was not synced: an in-memory FUSE file system whose files keep
//! two versions, what was written and what was last `fsync`ed (names: what was last
//! made durable by an `fsync` of the directory). [`LossyDisk::cut_power`] throws away
//! everything written since, and fails every call until [`LossyDisk::power_on`]: a
//! server answering from it cannot acknowledge anything after the cut, and what it
//! acknowledged before must be found again after it. [`LossyDisk::fail_writes`] makes
//! every `write` fail with `EIO`, for tests of a commit that fails.
//!
//! Flat (one directory), regular files only: enough for SQLite's database, `-wal`,
//! `-shm` and journal files. Attributes and entries are never cached by the kernel and
//! files are opened without `keep_cache`, so after a cut the next `open` reads what
//! survived, with no remount. Needs `/dev/fuse` and the right to mount (root).

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, WriteFlags,
};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// Attributes and entries are not cached: after a cut the kernel must ask again.
const TTL: Duration = Duration::ZERO;

/// A mounted [`LossyDisk`]; unmounted when dropped.
pub struct LossyDisk {
    state: Arc<Mutex<Disk>>,
    /// The FUSE connection's control directory, to abort it when dropped.
    control: std::path::PathBuf,
    // Dropped first: unmount before the directory goes.
    _session: fuser::BackgroundSession,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for LossyDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LossyDisk")
            .field("path", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl LossyDisk {
    /// Mounts a new, empty disk on a temporary directory. `None` (with a message on
    /// stderr) where FUSE cannot be mounted, unless `SYMBOLON_TEST_FUSE=required` (as CI
    /// sets it): then a panic, so that the test cannot pass by not running.
    pub fn mount() -> Option<Self> {
        match Self::try_mount() {
            Ok(disk) => Some(disk),
            Err(e) if std::env::var("SYMBOLON_TEST_FUSE").as_deref() == Ok("required") => {
                panic!("SYMBOLON_TEST_FUSE=required, and a FUSE file system cannot be mounted: {e}")
            }
            Err(e) => {
                eprintln!(
                    "skipped: this test needs a FUSE mount (/dev/fuse, as root) and got: {e}; \
                     run it as root on a machine with /dev/fuse (CI does, with SYMBOLON_TEST_FUSE=required)"
                );
                None
            }
        }
    }

    fn try_mount() -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let state = Arc::new(Mutex::new(Disk::default()));
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("symbolon-lossy".into()),
            MountOption::RW,
            MountOption::NoExec,
        ];
        let session = fuser::spawn_mount(
            LossyFs {
                state: state.clone(),
            },
            dir.path(),
            &config,
        )?;
        // The connection is named by the mount's device minor number; the control file
        // system may need mounting first.
        let connections = Path::new("/sys/fs/fuse/connections");
        if std::fs::read_dir(connections).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::process::Command::new("mount")
                .args(["-t", "fusectl", "fusectl"])
                .arg(connections)
                .status();
        }
        let dev = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(dir.path())?);
        let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        Ok(Self {
            state,
            control: connections.join(minor.to_string()),
            _session: session,
            dir,
        })
    }

    /// Where the disk is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// While on, every `write` fails with `EIO` (reads, syncs and the rest work).
    pub fn fail_writes(&self, on: bool) {
        lock(&self.state).fail_writes = on;
    }

    /// Cuts the power: every file goes back to what it held at its last `fsync`, every
    /// name to what the directory held at its last `fsync`, and every call fails with
    /// `EIO` until [`LossyDisk::power_on`].
    pub fn cut_power(&self) {
        let mut disk = lock(&self.state);
        disk.off = true;
        disk.names = disk.durable_names.clone();
        for node in disk.nodes.values_mut() {
            node.data = node.synced.clone();
        }
    }

    /// Ends a power cut: calls work again, on what survived it.
    pub fn power_on(&self) {
        lock(&self.state).off = false;
    }

    /// How many `fsync`/`fdatasync` calls on files the disk has served.
    pub fn syncs(&self) -> u64 {
        lock(&self.state).syncs
    }
}

impl Drop for LossyDisk {
    /// Aborts the connection and detaches the mount, so that neither files still open on
    /// it (a test that panicked with its server running) nor the unmount can hang the
    /// process: every call on the disk fails from here on.
    fn drop(&mut self) {
        let _ = std::fs::write(self.control.join("abort"), "1");
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn lock(state: &Mutex<Disk>) -> MutexGuard<'_, Disk> {
    // A panic in a FUSE callback leaves the data as consistent as any other moment.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct Disk {
    nodes: HashMap<u64, Node>,
    /// The directory as written.
    names: BTreeMap<String, u64>,
    /// The directory as of its last `fsync`.
    durable_names: BTreeMap<String, u64>,
    next_ino: u64,
    off: bool,
    fail_writes: bool,
    syncs: u64,
}

struct Node {
    data: Vec<u8>,
    synced: Vec<u8>,
    perm: u16,
    mtime: SystemTime,
}

struct LossyFs {
    state: Arc<Mutex<Disk>>,
}

impl LossyFs {
    /// The disk, or `EIO` while the power is off.
    fn disk(&self) -> Result<MutexGuard<'_, Disk>, Errno> {
        let disk = lock(&self.state);
        if disk.off {
            Err(Errno::EIO)
        } else {
            Ok(disk)
        }
    }
}

fn owner() -> (u32, u32) {
    (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    )
}

fn attr(ino: u64, node: Option<&Node>) -> FileAttr {
    let (uid, gid) = owner();
    let (kind, perm, size, mtime) = match node {
        Some(n) => (FileType::RegularFile, n.perm, n.data.len() as u64, n.mtime),
        None => (FileType::Directory, 0o755, 0, SystemTime::UNIX_EPOCH),
    };
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: mtime,
        mtime,
        ctime: mtime,
        crtime: mtime,
        kind,
        perm,
        nlink: if node.is_some() { 1 } else { 2 },
        uid,
        gid,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

/// The disk, or (while the power is off) `EIO` as the reply, returning from the handler.
macro_rules! disk_or_reply {
    ($fs:expr, $reply:ident) => {
        match $fs.disk() {
            Ok(disk) => disk,
            Err(e) => return $reply.error(e),
        }
    };
}

impl Filesystem for LossyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let disk = disk_or_reply!(self, reply);
        let found = (parent == INodeNo::ROOT)
            .then(|| name.to_str().and_then(|n| disk.names.get(n)))
            .flatten();
        match found {
            Some(&ino) => reply.entry(&TTL, &attr(ino, disk.nodes.get(&ino)), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let disk = disk_or_reply!(self, reply);
        if ino == INodeNo::ROOT {
            return reply.attr(&TTL, &attr(ino.0, None));
        }
        match disk.nodes.get(&ino.0) {
            Some(node) => reply.attr(&TTL, &attr(ino.0, Some(node))),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut disk = disk_or_reply!(self, reply);
        if ino == INodeNo::ROOT {
            return reply.attr(&TTL, &attr(ino.0, None));
        }
        if size.is_some() && disk.fail_writes {
            return reply.error(Errno::EIO);
        }
        let Some(node) = disk.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        if let Some(size) = size {
            let Ok(size) = usize::try_from(size) else {
                return reply.error(Errno::EFBIG);
            };
            node.data.resize(size, 0);
            node.mtime = SystemTime::now();
        }
        if let Some(mode) = mode {
            node.perm = (mode & 0o7777) as u16;
        }
        reply.attr(&TTL, &attr(ino.0, Some(node)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut disk = disk_or_reply!(self, reply);
        let removed = (parent == INodeNo::ROOT)
            .then(|| name.to_str().and_then(|n| disk.names.remove(n)))
            .flatten();
        match removed {
            // The node stays for whoever still has it open (and for a cut that brings
            // the name back).
            Some(_) => reply.ok(),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let disk = disk_or_reply!(self, reply);
        if disk.nodes.contains_key(&ino.0) {
            // No FOPEN_KEEP_CACHE: each open drops the kernel's cached pages.
            reply.opened(FileHandle(0), FopenFlags::empty());
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let disk = disk_or_reply!(self, reply);
        let Some(node) = disk.nodes.get(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(node.data.len());
        let end = start.saturating_add(size as usize).min(node.data.len());
        reply.data(&node.data[start..end]);
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut disk = disk_or_reply!(self, reply);
        if disk.fail_writes {
            return reply.error(Errno::EIO);
        }
        let Some(node) = disk.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::ENOENT);
        };
        let Some(end) = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(data.len()))
        else {
            return reply.error(Errno::EFBIG);
        };
        if node.data.len() < end {
            node.data.resize(end, 0);
        }
        node.data[end - data.len()..end].copy_from_slice(data);
        node.mtime = SystemTime::now();
        reply.written(data.len() as u32);
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut disk = disk_or_reply!(self, reply);
        disk.syncs += 1;
        match disk.nodes.get_mut(&ino.0) {
            Some(node) => {
                node.synced = node.data.clone();
                reply.ok();
            }
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let disk = disk_or_reply!(self, reply);
        if ino != INodeNo::ROOT {
            return reply.error(Errno::ENOTDIR);
        }
        let entries = [
            (1, FileType::Directory, "."),
            (1, FileType::Directory, ".."),
        ]
        .into_iter()
        .chain(
            disk.names
                .iter()
                .map(|(name, &ino)| (ino, FileType::RegularFile, name.as_str())),
        );
        for (i, (ino, kind, name)) in entries.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut disk = disk_or_reply!(self, reply);
        disk.durable_names = disk.names.clone();
        reply.ok();
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut disk = disk_or_reply!(self, reply);
        let Some(name) = name.to_str().filter(|_| parent == INodeNo::ROOT) else {
            return reply.error(Errno::EINVAL);
        };
        if let Some(&ino) = disk.names.get(name) {
            return reply.created(
                &TTL,
                &attr(ino, disk.nodes.get(&ino)),
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            );
        }
        // Inode numbers start after the root's (1) and are never reused.
        disk.next_ino = disk.next_ino.max(1) + 1;
        let ino = disk.next_ino;
        let node = Node {
            data: Vec::new(),
            synced: Vec::new(),
            perm: (mode & !umask & 0o7777) as u16,
            mtime: SystemTime::now(),
        };
        let attr = attr(ino, Some(&node));
        disk.nodes.insert(ino, node);
        disk.names.insert(name.to_owned(), ino);
        reply.created(
            &TTL,
            &attr,
            Generation(0),
            FileHandle(0),
            FopenFlags::empty(),
        );
    }
}
