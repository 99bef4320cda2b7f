#!/bin/bash
# timeout: 300
# Contract clause 7.2 (and 4.1-4.3 for host devices): with loopfs in the
# kernel and a loopfs instance mounted in a container at the same time, a
# host loop device and its partition still show everywhere, as in stock
# 6.12: in the host's /sys (block, class/block, dev/block,
# devices/virtual/block) and /proc/partitions and /proc/diskstats; in a
# container (own user, network, mount and pid namespaces, its own sysfs on
# /sys and proc) that holds a bound device of its own loopfs instance
# meanwhile; uevent listeners in the host's network namespace and in a new
# one owned by the initial user namespace get add, change, partition add
# and remove, and remove of the host device, and one in the container's
# network namespace none of them (as stock: uevents reach only network
# namespaces the initial user namespace owns).
#
# The checks are those of tests/stock/host_loop_device_in_sysfs_proc_
# uevents.sh (run on the loopfs-off kernel), here with the container's
# instance (LOOPFS_WITH_INSTANCE=1).
LOOPFS_WITH_INSTANCE=1
. "$(dirname "$0")/../stock/host_loop_device_in_sysfs_proc_uevents.sh"
