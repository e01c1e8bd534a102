/**
 * QMP and guest-agent clients, and the orchestration that turns a running QEMU into a frozen,
 * exported, bitmap-annotated view of its disks. Hands out an NBD URI and a bitmap context name;
 * never reads disk bytes itself.
 */
package dev.pluck.qmp;
