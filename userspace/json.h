/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json.h - the JSON reader of loopfs-oci-hook and loopfs-mountd: just
 * enough JSON (RFC 8259) for an OCI state, a config.json and a container
 * process state.  Header-only (static functions), so that each program
 * still builds from its one .c file and the C library.
 *
 * The whole document is checked, strictly: strings with their escapes (a
 * \u escape of a surrogate must be a high half followed by its low half),
 * numbers (no leading zero, a digit after '.' and in the exponent),
 * literals, nesting at most max_depth deep (the top object is depth 1;
 * every value inside an object or array is one deeper than it), nothing
 * after the top object.  The caller takes the members it needs on the
 * way: json_document() calls its member function for each member of the
 * top object, which consumes the value (json_object(), json_array(),
 * json_string(), json_number(), or json_skip() for what it does not want).
 *
 * Nothing here prints or exits: every function returns 0 (json_number():
 * 0 or 1) or -1 on an error, and the first error is kept in j->err (what
 * is wrong) and j->err_at (the byte of the document where it was seen);
 * the caller decides what an error means (the hook dies, the mount
 * supervisor refuses the connection).  A member function returns -1 to
 * stop the parse; it records why with json_error() (or has the failing
 * json_ call record it).
 */
#ifndef LOOPFS_JSON_H
#define LOOPFS_JSON_H

#include <limits.h>
#include <stddef.h>
#include <string.h>

#define JSON_UNUSED	__attribute__((unused))

struct json {
	const char *start, *p, *end;
	const char *what;	/* the document's name, for the caller's messages */
	int max_depth;
	const char *err;	/* the first error, or NULL */
	size_t err_at;		/* its byte offset */
};

/* Each member of an object: @key is NULL for a key that is too long or
 * holds a NUL character (which is none of ours). */
typedef int (*json_member_fn)(struct json *j, int depth, const char *key, void *arg);
/* Each element of an array */
typedef int (*json_element_fn)(struct json *j, int depth, void *arg);

/* Record @msg as the error at the cursor (unless there is one already): -1 */
static JSON_UNUSED int json_error(struct json *j, const char *msg)
{
	if (!j->err) {
		j->err = msg;
		j->err_at = (size_t)(j->p - j->start);
	}
	return -1;
}

static JSON_UNUSED void json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* The next byte after white space, or -1 at the end */
static JSON_UNUSED int json_peek(struct json *j)
{
	json_ws(j);
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static JSON_UNUSED int json_expect(struct json *j, char c, const char *msg)
{
	if (json_peek(j) != c)
		return json_error(j, msg);
	j->p++;
	return 0;
}

static JSON_UNUSED int json_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static JSON_UNUSED int json_hex4(struct json *j, unsigned int *v)
{
	int i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if (j->p >= j->end || (h = json_hexval((unsigned char)*j->p)) < 0)
			return json_error(j, "bad \\u escape");
		*v = *v << 4 | h;
		j->p++;
	}
	return 0;
}

/* Append byte @c to @out (capacity @len) at *@n; counts past the end too. */
static JSON_UNUSED void json_put(char *out, size_t len, size_t *n, unsigned char c)
{
	if (out && *n + 1 < len)
		out[*n] = c;
	(*n)++;
}

/*
 * The string at the cursor, decoded (UTF-8) into @out: at most @len - 1
 * bytes and a NUL, the rest cut off; @out may be NULL to check and skip
 * it.  Its whole decoded length goes to *@lenp, which is >= @len if it was
 * cut; *@has_nul is set if it holds a NUL character (\u0000), which a C
 * string cannot.  (@lenp and @has_nul may be NULL.)
 */
static JSON_UNUSED int json_string(struct json *j, char *out, size_t len,
				   size_t *lenp, int *has_nul)
{
	size_t n = 0;
	unsigned int cp, lo;
	int nul = 0;

	if (json_expect(j, '"', "want a string"))
		return -1;
	for (;;) {
		unsigned char c;

		if (j->p >= j->end)
			return json_error(j, "unterminated string");
		c = *j->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return json_error(j, "control character in a string");
		if (c != '\\') {
			json_put(out, len, &n, c);
			continue;
		}
		if (j->p >= j->end)
			return json_error(j, "unterminated string");
		c = *j->p++;
		switch (c) {
		case '"': case '\\': case '/':
			json_put(out, len, &n, c);
			continue;
		case 'b': json_put(out, len, &n, '\b'); continue;
		case 'f': json_put(out, len, &n, '\f'); continue;
		case 'n': json_put(out, len, &n, '\n'); continue;
		case 'r': json_put(out, len, &n, '\r'); continue;
		case 't': json_put(out, len, &n, '\t'); continue;
		case 'u':
			break;
		default:
			j->p--;
			return json_error(j, "bad escape in a string");
		}
		if (json_hex4(j, &cp))
			return -1;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return json_error(j, "lone low surrogate in a \\u escape");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
				return json_error(j, "high surrogate without its low half");
			j->p += 2;
			if (json_hex4(j, &lo))
				return -1;
			if (lo < 0xdc00 || lo > 0xdfff)
				return json_error(j, "high surrogate without its low half");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (!cp)
			nul = 1;
		if (cp < 0x80) {
			json_put(out, len, &n, cp);
		} else if (cp < 0x800) {
			json_put(out, len, &n, 0xc0 | cp >> 6);
			json_put(out, len, &n, 0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			json_put(out, len, &n, 0xe0 | cp >> 12);
			json_put(out, len, &n, 0x80 | ((cp >> 6) & 0x3f));
			json_put(out, len, &n, 0x80 | (cp & 0x3f));
		} else {
			json_put(out, len, &n, 0xf0 | cp >> 18);
			json_put(out, len, &n, 0x80 | ((cp >> 12) & 0x3f));
			json_put(out, len, &n, 0x80 | ((cp >> 6) & 0x3f));
			json_put(out, len, &n, 0x80 | (cp & 0x3f));
		}
	}
	if (out && len)
		out[n < len ? n : len - 1] = 0;
	if (lenp)
		*lenp = n;
	if (has_nul)
		*has_nul = nul;
	return 0;
}

/*
 * The number at the cursor.  1 and its value in *@val if it is an integer
 * (no fraction, no exponent) that a long long holds; 0 if it is another
 * number (*@val is then meaningless); -1 if it is no number.
 */
static JSON_UNUSED int json_number(struct json *j, long long *val)
{
	int is_int = 1, neg = 0, d;
	long long v = 0;

	json_ws(j);
	if (j->p < j->end && *j->p == '-') {
		neg = 1;
		j->p++;
	}
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return json_error(j, "bad number");
	if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
		return json_error(j, "number with a leading zero");
	for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
		d = *j->p - '0';
		if (v > (LLONG_MAX - d) / 10)
			is_int = 0;
		else
			v = v * 10 + d;
	}
	if (j->p < j->end && *j->p == '.') {
		is_int = 0;
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return json_error(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		is_int = 0;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return json_error(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	*val = neg ? -v : v;
	return is_int;
}

static JSON_UNUSED int json_skip(struct json *j, int depth);

/* The object at the cursor: @member for each member (NULL: skip them all). */
static JSON_UNUSED int json_object(struct json *j, int depth, json_member_fn member,
				   void *arg)
{
	char key[128];
	size_t n;
	int nul;

	if (depth > j->max_depth)
		return json_error(j, "nested too deeply");
	if (json_expect(j, '{', "want an object"))
		return -1;
	if (json_peek(j) == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (json_string(j, key, sizeof(key), &n, &nul) ||
		    json_expect(j, ':', "want ':' after a member name"))
			return -1;
		if (member ? member(j, depth + 1, n < sizeof(key) && !nul ? key : NULL, arg)
			   : json_skip(j, depth + 1))
			return json_error(j, "bad member");	/* (a member function's -1 without a reason) */
		if (json_peek(j) == '}') {
			j->p++;
			return 0;
		}
		if (json_expect(j, ',', "want ',' or '}' in an object"))
			return -1;
	}
}

/* The array at the cursor: @element for each element (NULL: skip them all). */
static JSON_UNUSED int json_array(struct json *j, int depth, json_element_fn element,
				  void *arg)
{
	if (depth > j->max_depth)
		return json_error(j, "nested too deeply");
	if (json_expect(j, '[', "want an array"))
		return -1;
	if (json_peek(j) == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (element ? element(j, depth + 1, arg) : json_skip(j, depth + 1))
			return json_error(j, "bad element");	/* (as for a member) */
		if (json_peek(j) == ']') {
			j->p++;
			return 0;
		}
		if (json_expect(j, ',', "want ',' or ']' in an array"))
			return -1;
	}
}

/* Check and skip any value. */
static JSON_UNUSED int json_skip(struct json *j, int depth)
{
	static const char *const literals[] = { "true", "false", "null" };
	long long v;
	size_t i, l;
	int c;

	if (depth > j->max_depth)
		return json_error(j, "nested too deeply");
	c = json_peek(j);
	switch (c) {
	case '{':
		return json_object(j, depth, NULL, NULL);
	case '[':
		return json_array(j, depth, NULL, NULL);
	case '"':
		return json_string(j, NULL, 0, NULL, NULL);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return json_number(j, &v) < 0 ? -1 : 0;
	}
	for (i = 0; i < sizeof(literals) / sizeof(literals[0]); i++) {
		l = strlen(literals[i]);
		if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, literals[i], l)) {
			j->p += l;
			return 0;
		}
	}
	return json_error(j, c < 0 ? "unexpected end" : "want a value");
}

/*
 * A whole document (@len bytes at @buf, named @what), which must be an
 * object: @member for each of its members.  0, or -1 with j->err set.
 */
static JSON_UNUSED int json_document(struct json *j, const char *buf, size_t len,
				     const char *what, int max_depth,
				     json_member_fn member, void *arg)
{
	j->start = j->p = buf;
	j->end = buf + len;
	j->what = what;
	j->max_depth = max_depth;
	j->err = NULL;
	j->err_at = 0;
	if (json_peek(j) != '{')
		return json_error(j, "want an object");
	if (json_object(j, 1, member, arg))
		return -1;
	if (json_peek(j) != -1)
		return json_error(j, "more after the object");
	return 0;
}

#endif /* LOOPFS_JSON_H */
