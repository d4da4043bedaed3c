#!/bin/bash
# Carried in the project from the team's shared recipe (shared/tools/run-in-vm.sh): a fresh clone
# must be able to run the dm-crypt suite on its own.
# run-in-vm.sh - run a command as root inside a throw-away QEMU guest (KVM if
# usable, else TCG emulation) that boots a stock Debian kernel (linux-image-amd64)
# and sees the host's root filesystem (9p, read-only) through an overlay whose
# writes go to a guest tmpfs (discarded).  Guest has dm_crypt/loop/ext4/btrfs.
#
#   run-in-vm.sh 'shell command string'    # run with bash -c semantics
#   run-in-vm.sh prog arg1 arg2 ...        # exec argv as given
#
# stdout/stderr of the command come back on this script's stdout/stderr; the
# exit status is the command's.  125 = VM/infra failure, 124 = timeout.
# cwd and exported environment of the caller are reproduced in the guest; guest
# stdin is /dev/null; guest stdout/stderr are pipes (not ttys).
#
# Env knobs: VM_STATE_DIR (cache dir, default /var/cache/run-in-vm),
#   VM_MEM (MiB, default 2048), VM_CPUS (default nproc), VM_TIMEOUT (s, 3600),
#   VM_KERNEL_PKG (e.g. linux-image-6.1.0-56-amd64; default: what
#   linux-image-amd64 depends on), VM_DEBUG=1 (show guest console on stderr),
#   VM_SHELL (default /bin/bash), VM_ACCEL (auto|kvm|tcg), VM_CPU (-cpu model),
#   VM_RW_DIRS (colon-separated host dirs shared read-write, e.g. a reports dir),
#   VM_PRELOAD_MODS (modules loaded at boot; anything else autoloads),
#   VM_SETUP_ONLY=1 (do the one-time setup, then exit 0 without booting: a
#   prefetch while other work runs).
#
# Host requirements: qemu-system-x86 (9p/virtfs support is built in), xz-utils,
# busybox-static (or apt access to download it), apt-get + up-to-date package
# lists for the one-time kernel download, root (9p passthrough of the whole fs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${VM_STATE_DIR:-/var/cache/run-in-vm}
VM_MEM=${VM_MEM:-2048}
VM_CPUS=${VM_CPUS:-$(nproc)}
VM_TIMEOUT=${VM_TIMEOUT:-3600}
VM_SHELL=${VM_SHELL:-/bin/bash}

die() { echo "run-in-vm: $*" >&2; exit 125; }
[ $# -ge 1 ] || die "usage: $0 'command' | $0 prog args..."
# Accelerator: real KVM if usable; TCG (software emulation) otherwise.  A kvm_pvm
# host (PVM, software "KVM" without VMX/SVM) cannot run a stock kernel at usable speed.
VM_ACCEL=${VM_ACCEL:-auto}
if [ "$VM_ACCEL" = auto ]; then
  if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then VM_ACCEL=kvm; else VM_ACCEL=tcg; fi
fi
case $VM_ACCEL in
  kvm) ACCEL=(-machine pc -accel kvm -cpu "${VM_CPU:-host}");;
  tcg) ACCEL=(-machine pc -accel tcg,thread=multi -cpu "${VM_CPU:-max,-la57}");;
  *) die "VM_ACCEL must be auto|kvm|tcg";;
esac
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"

# Modules loaded from the initramfs before the host root is mounted.
BOOT_MODS="virtio_pci virtio_console virtio-rng 9pnet_virtio 9p overlay"
# Modules preloaded once the full module tree is reachable (others autoload).
PRELOAD_MODS="${VM_PRELOAD_MODS:-loop dm_mod dm_crypt xts aesni_intel sha256_ssse3 af_alg algif_skcipher algif_hash}"

setup() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock 9
  [ -f "$STATE/ready" ] && return 0
  echo "run-in-vm: one-time setup in $STATE" >&2
  local work; work=$(mktemp -d "$STATE/setup.XXXXXX")
  (
    cd "$work"
    pkg=${VM_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')}
    [ -n "$pkg" ] || { echo "cannot resolve kernel package (apt-get update?)" >&2; exit 1; }
    apt-get download "$pkg" >&2
    dpkg-deb -x "$pkg"_*.deb kroot
    rm -f "$pkg"_*.deb
    kver=$(ls kroot/lib/modules)
    # stock .deb has no modules.dep (made by postinst) -> busybox depmod
    if [ -x /bin/busybox ] && { LC_ALL=C ldd /bin/busybox 2>&1 || true; } | grep -q 'not a dynamic'; then
      cp /bin/busybox busybox
    else
      apt-get download busybox-static >&2
      dpkg-deb -x busybox-static_*.deb bbx && cp bbx/bin/busybox busybox && rm -rf bbx busybox-static_*.deb
    fi
    ./busybox depmod -b "$work/kroot" "$kver"
    # initramfs: busybox + boot modules (dependency closure) + /init
    mkdir -p ird/bin ird/sbin ird/proc ird/sys ird/dev ird/lower ird/newroot ird/rw ird/out "ird/lib/modules/$kver"
    cp busybox ird/bin/busybox
    M=kroot/lib/modules/$kver
    want=""
    for m in $BOOT_MODS; do
      f=$(awk -v m="$m" -F: '{n=$1; sub(/.*\//,"",n); sub(/\.ko$/,"",n); gsub(/-/,"_",n); t=m; gsub(/-/,"_",t); if (n==t) {print; exit}}' "$M/modules.dep")
      [ -n "$f" ] || { echo "module $m not found" >&2; exit 1; }
      want="$want ${f%%:*} ${f#*:}"
    done
    for f in $want; do
      mkdir -p "ird/lib/modules/$kver/$(dirname "$f")"; cp "$M/$f" "ird/lib/modules/$kver/$f"
      grep "^$f:" "$M/modules.dep" >> "ird/lib/modules/$kver/modules.dep.tmp"
    done
    sort -u "ird/lib/modules/$kver/modules.dep.tmp" > "ird/lib/modules/$kver/modules.dep"
    rm "ird/lib/modules/$kver/modules.dep.tmp"
    cat > ird/init <<'EOF'
#!/bin/busybox sh
# guest PID 1
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
echo /bin/modprobe > /proc/sys/kernel/modprobe
for a in $(cat /proc/cmdline); do
  case $a in vm.moddir=*) MODDIR=${a#vm.moddir=};; vm.preload=*) PRELOAD=$(echo ${a#vm.preload=} | tr , ' ');; esac
done
t() { read up _ < /proc/uptime; echo "vm-init[$up] $*" >&2; }
halt_vm() { sync; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }
fail() { echo "vm-init: $*" >&2; echo 125 > /out/status 2>/dev/null; halt_vm; }
t start
for m in $(cat /bootmods); do modprobe $m || echo "vm-init: modprobe $m failed" >&2; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 vmout /out || fail "mount vmout"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower || fail "mount hostroot"
# full module tree of the guest kernel lives on the host fs
[ -n "$MODDIR" ] && mount --bind "/lower$MODDIR" /lib/modules
t "9p mounted"
for m in $PRELOAD; do modprobe $m || echo "vm-init: modprobe $m failed" >&2; t "loaded $m"; done
mount -t tmpfs -o mode=0755 rw /rw && mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "overlay"
R=/newroot
mount -t proc proc $R/proc; mount -t sysfs sysfs $R/sys
mount --bind /dev $R/dev
mkdir -p /dev/pts /dev/shm; mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts; mount -t tmpfs -o mode=1777 shm $R/dev/shm
mount -t tmpfs -o mode=0755 run $R/run          # fresh /run: no /run/udev -> libdevmapper does not wait for udev
mkdir -p $R/run/vm $R/run/lock && mount --bind /out $R/run/vm
[ -d $R/lib/modules ] || mkdir -p $R/lib/modules; [ -n "$MODDIR" ] && mount --bind /lib/modules $R/lib/modules
[ -d /sys/fs/cgroup ] && mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/fd /dev/fd 2>/dev/null; ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
i=0; [ -f /out/rwdirs ] && while IFS= read -r d; do
  mkdir -p "$R$d"; mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 rw$i "$R$d" || fail "mount rw$i"; i=$((i+1))
done < /out/rwdirs
hostname vm
ifconfig lo 127.0.0.1 up 2>/dev/null
port() { for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name 2>/dev/null)" = "$1" ] && { echo /dev/${p##*/}; return; }; done; }
O=$(port vm.stdout); E=$(port vm.stderr); [ -n "$O" ] || fail "no stdout port"; [ -n "$E" ] || E=$O
t "running command"
chroot $R $(cat /out/shell) /run/vm/cmd.sh </dev/null >$O 2>$E
rc=$?
t "command exited rc=$rc"
echo $rc > /out/status
umount $R/run/vm 2>/dev/null; umount /out 2>/dev/null
halt_vm
EOF
    chmod +x ird/init
    echo "$BOOT_MODS" > ird/bootmods
    (cd ird && find . | ../busybox cpio -o -H newc 2>/dev/null | gzip -1) > initramfs.gz
    rm -rf ird
    mv kroot/boot/vmlinuz-* vmlinuz
    # Uncompressed ELF vmlinux boots via the PVH entry point (CONFIG_PVH=y): skips
    # real-mode setup and the in-guest decompressor (~6 s under TCG).
    off=$(LC_ALL=C grep -abo $'\xfd7zXZ\x00' vmlinuz | head -1 | cut -d: -f1 || true)
    if [ -n "$off" ] && tail -c +$((off+1)) vmlinuz > vmlinux.xz && xz -dc --single-stream vmlinux.xz > vmlinux 2>/dev/null &&
       [ "$(head -c4 vmlinux | od -An -c | tr -d ' ')" = '177ELF' ]; then
      rm vmlinuz vmlinux.xz
    else
      rm -f vmlinux; echo "note: could not extract vmlinux, booting bzImage" >&2
    fi
    rm -rf kroot/usr kroot/boot/System.map-*     # keep lib/modules (+ config)
    echo "$kver" > kver
  ) || { rm -rf "$work"; die "setup failed"; }
  rm -rf "$STATE/kroot" "$STATE/vmlinuz" "$STATE/vmlinux" "$STATE/initramfs.gz"
  mv "$work/kroot" "$work/initramfs.gz" "$work/kver" "$STATE/"
  mv "$work"/vmlinu[xz] "$STATE/"
  rm -rf "$work"
  touch "$STATE/ready"
}
setup
[ "${VM_SETUP_ONLY:-0}" = 1 ] && exit 0
exec 9>&-

RUN=$(mktemp -d "${TMPDIR:-/tmp}/run-in-vm.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
# command script: caller's exported env + cwd, then the command
{
  for v in $(compgen -e); do
    case $v in PWD|OLDPWD|SHLVL|_|BASH_*|VM_*) continue;; esac
    printf 'export %s=%q\n' "$v" "${!v}"
  done
  echo 'export DM_DISABLE_UDEV=1'   # no udev in the guest: libdevmapper makes /dev/mapper nodes itself
  printf 'cd -- %q 2>/dev/null || cd /\n' "$PWD"
  if [ $# -eq 1 ]; then printf '%s\n' "$1"; else printf 'exec'; printf ' %q' "$@"; printf '\n'; fi
} > "$RUN/cmd.sh"
echo "$VM_SHELL" > "$RUN/shell"

# Command stdout/stderr travel over two virtio-serial ports into FIFOs relayed by
# cat.  (chardev "stdio" is unusable: once qemu's stdin hits EOF the port counts
# as disconnected and guest writes block forever.)
mkfifo "$RUN/stdout.fifo" "$RUN/stderr.fifo"
cat "$RUN/stdout.fifo" & OUTCAT=$!
cat "$RUN/stderr.fifo" >&2 & ERRCAT=$!
exec 7<>"$RUN/stdout.fifo" 8<>"$RUN/stderr.fifo"   # hold a writer so cat never blocks/ends early
CONSOLE="file:$RUN/console.log"

RW=(); i=0
IFS=: read -ra rwdirs <<< "${VM_RW_DIRS:-}"
for d in "${rwdirs[@]}"; do
  [ -n "$d" ] || continue
  d=$(cd "$d" && pwd -P) || die "VM_RW_DIRS: no such dir $d"
  RW+=(-fsdev "local,id=rw$i,path=${d//,/,,},security_model=none" -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
  printf '%s\n' "$d" >> "$RUN/rwdirs"; i=$((i+1))
done

KERNEL=$STATE/vmlinux; [ -f "$KERNEL" ] || KERNEL=$STATE/vmlinuz
set +e
timeout --foreground -k 10 "$VM_TIMEOUT" qemu-system-x86_64 \
  -nodefaults -no-user-config "${ACCEL[@]}" -smp "$VM_CPUS" -m "$VM_MEM" \
  -display none -vga none -no-reboot -monitor none \
  -kernel "$KERNEL" -initrd "$STATE/initramfs.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 cryptomgr.notests=1 vm.moddir=$STATE/kroot/lib/modules vm.preload=${PRELOAD_MODS// /,}" \
  -serial "$CONSOLE" \
  -fsdev "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap" \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=vmout,path=${RUN//,/,,},security_model=none" \
  -device virtio-9p-pci,fsdev=vmout,mount_tag=vmout \
  -device virtio-serial-pci,id=vser \
  -chardev "file,id=out,path=$RUN/stdout.fifo" -device virtserialport,bus=vser.0,chardev=out,name=vm.stdout \
  -chardev "file,id=err,path=$RUN/stderr.fifo" -device virtserialport,bus=vser.0,chardev=err,name=vm.stderr \
  "${RW[@]}" -device virtio-rng-pci </dev/null 7>&- 8>&- &
QPID=$!
SIG=0; trap 'SIG=143; kill -TERM $QPID 2>/dev/null' TERM HUP; trap 'SIG=130; kill -TERM $QPID 2>/dev/null' INT
wait $QPID; qrc=$?
while kill -0 $QPID 2>/dev/null; do wait $QPID; qrc=$?; done
exec 7>&- 8>&-
wait $OUTCAT $ERRCAT
set -e
if [ "${VM_DEBUG:-0}" = 1 ]; then echo "----- guest console -----" >&2; cat "$RUN/console.log" >&2 || true; fi
if [ $SIG -ne 0 ]; then echo "run-in-vm: interrupted" >&2; exit $SIG; fi
if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then echo "run-in-vm: timed out after ${VM_TIMEOUT}s" >&2; exit 124; fi
if [ ! -s "$RUN/status" ]; then
  echo "run-in-vm: guest did not report a status (qemu rc=$qrc); console tail:" >&2
  tail -n 40 "$RUN/console.log" >&2 || true
  exit 125
fi
exit "$(cat "$RUN/status")"
