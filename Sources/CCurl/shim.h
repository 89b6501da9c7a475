// libcurl (Debian's libcurl4-openssl-dev): webhooks and model downloads. curl_easy_setopt and curl_easy_getinfo
// take C varargs, which Swift cannot call: one fixed-type wrapper each.
#include <curl/curl.h>

static inline CURLcode vidar_curl_set_long(CURL *c, CURLoption o, long v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode vidar_curl_set_string(CURL *c, CURLoption o, const char *v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode vidar_curl_set_pointer(CURL *c, CURLoption o, void *v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode vidar_curl_set_off(CURL *c, CURLoption o, curl_off_t v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode vidar_curl_set_slist(CURL *c, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(c, o, v); }

typedef size_t (*vidar_curl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*vidar_curl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static inline CURLcode vidar_curl_set_write(CURL *c, vidar_curl_data_callback f, void *context) {
    CURLcode r = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, f);
    return r != CURLE_OK ? r : curl_easy_setopt(c, CURLOPT_WRITEDATA, context);
}
static inline CURLcode vidar_curl_set_header(CURL *c, vidar_curl_data_callback f, void *context) {
    CURLcode r = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, f);
    return r != CURLE_OK ? r : curl_easy_setopt(c, CURLOPT_HEADERDATA, context);
}
static inline CURLcode vidar_curl_set_progress(CURL *c, vidar_curl_progress_callback f, void *context) {
    CURLcode r = curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, f);
    if (r == CURLE_OK) r = curl_easy_setopt(c, CURLOPT_XFERINFODATA, context);
    return r != CURLE_OK ? r : curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}
static inline long vidar_curl_response_code(CURL *c) { long code = 0; curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code); return code; }
static inline const char *vidar_curl_redirect_url(CURL *c) { char *u = NULL; curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &u); return u; }
static inline const char *vidar_curl_effective_url(CURL *c) { char *u = NULL; curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &u); return u; }
