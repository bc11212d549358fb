/**
 * When answers are compressed: only past this size, in bytes, and only for a client that sends
 * `Accept-Encoding`. Below it the CPU spent on the HTTP thread's side costs more than the bytes
 * saved on a LAN; JSON tensors of a few hundred rows and more are well past it.
 *
 * @module
 */
export const kCompressThreshold = 16 * 1024;
