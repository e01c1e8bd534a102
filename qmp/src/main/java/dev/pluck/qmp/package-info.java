/**
 * QMP and guest-agent clients; point-in-time views and checkpoint chains on live VMs. Hands out an NBD URI and a bitmap context, never reads disk bytes.
 */
package dev.pluck.qmp;
