/*
 * proxy.h: which address a request comes from, when reverse proxies stand
 * in front of newsd.
 *
 * The trusted-proxies setting lists the addresses (IPs, or networks in CIDR
 * form: "10.0.0.0/8", "fd00::/8") of proxies whose X-Forwarded-For header is
 * believed. A proxy appends the address it received a connection from to
 * that header, so the header's right end was written by the nearest proxy
 * and its left end by whoever sent the request first, possibly the client
 * lying. The client is therefore the right-most address that is not a
 * trusted proxy, walking left only while each hop is trusted; a peer that is
 * not trusted is the client itself, whatever its header says. With the
 * default (an empty list) the header is never believed.
 *
 * Everything here is pure (no I/O), so it is unit-tested on its own
 * (tests/unit/test_proxy.c).
 */
#ifndef NEWSD_PROXY_H
#define NEWSD_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "newsd/err.h"

/* Room for any address as text (an IPv6 address with an embedded IPv4 one). */
#define ND_ADDR_TEXT_MAX 48

struct nd_proxy_list;

/*
 * Parses a comma-separated list of IP addresses and CIDR networks (white
 * space around items allowed; "" is the empty list) into *out. ND_ERR_INVALID
 * writes a sentence naming the bad item to why (whylen bytes) and leaves
 * *out untouched; ND_ERR_NOMEM.
 */
enum nd_err nd_proxy_list_parse(const char *text, struct nd_proxy_list **out, char *why,
                                size_t whylen);

/* Frees the list. Accepts NULL. */
void nd_proxy_list_destroy(struct nd_proxy_list *list);

/* True when addr (an IP address as text) is in one of the list's networks. */
bool nd_proxy_list_contains(const struct nd_proxy_list *list, const char *addr);

/*
 * Writes the client's address to out (len bytes, at least ND_ADDR_TEXT_MAX):
 * peer (the connection's address as text) unless peer is a trusted proxy and
 * forwarded_for (the X-Forwarded-For values joined by commas, or NULL) names
 * an earlier hop; then the right-most untrusted address of forwarded_for, or
 * its left-most one when every hop is trusted. Walking stops at an entry
 * that is not an address, and the last trusted hop is taken. Entries may
 * carry a port ("1.2.3.4:80", "[2001:db8::1]:80"). Addresses come out in
 * canonical form, IPv4-mapped IPv6 ones as IPv4. list may be NULL (no proxy
 * is trusted).
 */
void nd_proxy_client(const struct nd_proxy_list *list, const char *peer, const char *forwarded_for,
                     char *out, size_t len);

/*
 * The rate-limit key of a client address: an IPv6 address cut to its /64
 * (the block one subscriber usually holds), anything else as it is.
 */
void nd_proxy_bucket_key(const char *addr, char *out, size_t len);

#endif
