/* What --live adds to pages (see inject.h): the script, the search for </body>, the
 * reserved path and the ETag suffix. Pure. */
#include "sluice/inject.h"

#include <string.h>
#include <strings.h>

/* The script, readable (it is sent minified below; keep the two in step):
 *
 *   const P = '/.sluice/live', C = self.BroadcastChannel && new BroadcastChannel(P);
 *   let H, R, N = 0;        // the server's boot id; reloading; 404s seen while probing
 *   // Stylesheets: swap the changed ones (all when none of them is linked here) for
 *   // fresh copies, removing each old one once its replacement has loaded: no flash.
 *   const css = p => { ...link[rel~=stylesheet]..., n.onload = n.onerror = () => l.remove() };
 *   // Reload, but only onto a page that is there: while the root is being rebuilt
 *   // sluice answers 503 (and the page may be 404 for a moment), so probe until it is.
 *   const go = () => fetch(location.href, {method: 'HEAD', cache: 'no-store'})
 *       .then(r => { if (r.status == 503 || r.status == 404 && ++N < 40) throw 0;
 *                    location.reload(); })
 *       .catch(() => setTimeout(go, 250));
 *   // hello: sent first on every stream; another boot id means sluice restarted.
 *   const on = (t, d) => ...;
 *   // One EventSource for all tabs where Web Locks exist (browsers allow 6 HTTP/1.1
 *   // connections per server: six tabs holding a stream each would starve a seventh);
 *   // its holder passes events on over a BroadcastChannel. EventSource reconnects by
 *   // itself after a network error; a refused stream (CLOSED) is retried each second.
 *   const listen = s => { const e = new EventSource(P); ... };
 */
static const char script[] =
    "<script>/* sluice --live */(()=>{"
    "const P='/.sluice/live',C=self.BroadcastChannel&&new BroadcastChannel(P);"
    "let H,R,N=0;"
    "const css=p=>{"
    "const L=[...document.querySelectorAll('link[rel~=stylesheet][href]')],"
    "u=x=>new URL(x,location).pathname,M=L.filter(l=>p.some(x=>u(x)==u(l.href)));"
    "for(const l of M.length?M:L){const n=l.cloneNode(),h=new URL(l.href);"
    "h.searchParams.set('sluice-live',Date.now());"
    "n.href=h;n.onload=n.onerror=()=>l.remove();l.after(n)}};"
    "const go=()=>fetch(location.href,{method:'HEAD',cache:'no-store'}).then(r=>{"
    "if(r.status==503||r.status==404&&++N<40)throw 0;location.reload()})"
    ".catch(()=>setTimeout(go,250));"
    "const on=(t,d)=>t=='hello'?(H&&H!=d&&!R++&&go(),H=d):"
    "t=='css'?css(JSON.parse(d)):R++||go();"
    "const listen=s=>{const e=new EventSource(P);"
    "for(const t of['hello','reload','css'])e.addEventListener(t,m=>{"
    "on(t,m.data);s&&C.postMessage([t,m.data])});"
    "e.onerror=()=>e.readyState==2&&setTimeout(listen,1e3,s)};"
    "if(C)C.onmessage=m=>on(...m.data);"
    "C&&navigator.locks?navigator.locks.request(P,()=>new Promise(()=>listen(1))):listen(0)"
    "})()</script>";

struct sl_str sl_inject_script(void)
{
    return sl_str_make(script, sizeof(script) - 1);
}

bool sl_inject_is_stream(const char *rel, size_t len)
{
    return len == sizeof(SL_LIVE_PATH) - 1 && memcmp(rel, SL_LIVE_PATH, len) == 0;
}

/* What may follow "</body" for a tokenizer to end the tag there (HTML's "end tag open"
 * then "tag name" states): whitespace, '/' or '>'. */
static bool ends_tag_name(char c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ' || c == '/' || c == '>';
}

size_t sl_inject_find(const char *tail, size_t n)
{
    static const char tag[] = "</body";
    const size_t t = sizeof(tag) - 1;
    if (n <= t)
        return n;
    /* The last one: a page may quote "</body>" in its text or a script before its own. */
    for (size_t i = n - t; i-- > 0;) {
        if (strncasecmp(tail + i, tag, t) == 0 && ends_tag_name(tail[i + t]))
            return i;
    }
    return n;
}

size_t sl_inject_etag(char out[SL_ETAG_MAX], const char *etag, size_t len)
{
    static const char suffix[] = "-live";
    const size_t s = sizeof(suffix) - 1;
    if (len < 2 || etag[len - 1] != '"' || len + s >= SL_ETAG_MAX)
        return 0;
    memcpy(out, etag, len - 1);
    memcpy(out + len - 1, suffix, s);
    out[len - 1 + s] = '"';
    out[len + s] = '\0';
    return len + s;
}
