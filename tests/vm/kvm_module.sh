#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kvm_module.sh - load KVM, which the test kernel builds as modules, as a
# VMM host would; the suites after this one use /dev/kvm.
set -uo pipefail
. "$(dirname "$0")/../lib/tap.sh"
kvm_dir=${TEST_KBUILD:?}/arch/x86/kvm

tap_plan 4
ok "insmod irqbypass.ko (kvm needs it)" insmod "$TEST_KBUILD/virt/lib/irqbypass.ko"
ok "insmod kvm.ko" insmod "$kvm_dir/kvm.ko"
ok "insmod kvm-amd.ko (nested SVM under -cpu max)" insmod "$kvm_dir/kvm-amd.ko"
ok "/dev/kvm appeared" test -c /dev/kvm
tap_done
