/*
 * Image catalogue: a client of the mod_images API in plain JavaScript.
 *
 * - The API's base comes from <body data-api="...">, default "/images";
 *   relative values are resolved against this page, so the same files work
 *   next to the API and on another origin (which the API must list in
 *   ImagesCORSOrigins).
 * - Pages follow the API's own "next" and "previous" URLs, verbatim.
 * - Sign-in: HTTP Basic (username and password) or a pasted API token.
 *   Either is kept in this script's memory only (no cookie, no storage) and
 *   sent as an Authorization header by fetch() with credentials: "omit", so
 *   the browser neither caches it nor pops up its own login dialog on a
 *   401.  Basic sends the password with every request, readable by anyone
 *   on the path unless the page and the API are served over https: plain
 *   http is for local use only.
 * - Edits are PATCH requests with If-Match set to the ETag of the image as
 *   it was loaded; the API's answers (field errors, 403, 412, ...) are shown
 *   next to the form.
 * Every piece of API data reaches the page as text (textContent), never as
 * HTML.
 */
(function () {
  'use strict';

  var API = new URL(document.body.getAttribute('data-api') || '/images',
                    document.baseURI).href.replace(/\/+$/, '');
  var API_ORIGIN = new URL(API).origin;

  var FIELDS = {                 // PATCH keys the form edits -> input ids
    name: 'edit-name',
    description: 'edit-description',
    is_public: 'edit-is-public',
    end_date: 'edit-end-date'
  };

  var state = {
    auth: null,          // { header, username (null for a token), label }
    listUrl: null,       // URL of the page on screen
    list: null,          // its body: { count, next, previous, results }
    listSeq: 0,          // ignores answers to superseded list requests
    image: null,         // the image in the detail view, as loaded
    etag: null,          // its ETag, for If-Match
    detailSeq: 0,
    lastOpened: null,    // id of the image opened from the list
    saving: false,
    creators: new Set(),
    tags: new Set()
  };

  function $(id) { return document.getElementById(id); }

  // Build an element: el('a', { href: '#', className: 'x' }, 'text', child)
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'className') node.className = attrs[k];
      else if (k === 'text') node.textContent = attrs[k];
      else if (k.slice(0, 5) === 'data-' || k.slice(0, 5) === 'aria-')
        node.setAttribute(k, attrs[k]);
      else node[k] = attrs[k];
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // "2015-03-30T18:30:45.501948Z" -> <time>2015-03-30 18:30 UTC</time>
  function timeEl(iso) {
    if (!iso) return document.createTextNode('—');
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
    return el('time', { dateTime: iso, title: iso },
              m ? m[1] + ' ' + m[2] + ' UTC' : iso);
  }

  function hasEnded(iso) { return !!iso && Date.parse(iso) <= Date.now(); }

  // ---- talking to the API -------------------------------------------------

  function authHeaders(url) {
    // credentials go to the API's own origin only, whatever a link says
    if (!state.auth || new URL(url, API).origin !== API_ORIGIN) return {};
    return { Authorization: state.auth.header };
  }

  // Resolves to { status, data (parsed JSON or null), etag };
  // rejects (TypeError) when the API cannot be reached or CORS refuses it.
  function call(url, opts) {
    opts = opts || {};
    var headers = Object.assign({ Accept: 'application/json' },
                                opts.auth === false ? {} : authHeaders(url),
                                opts.headers || {});
    return fetch(url, {
      method: opts.method || 'GET',
      headers: headers,
      body: opts.body,
      mode: 'cors',
      credentials: 'omit',      // only the Authorization header set here
      cache: 'no-cache',        // always revalidate: ETags must be current
      redirect: 'error'
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: res.status, data: data, etag: res.headers.get('ETag') };
      });
    });
  }

  function detailOf(r) {
    if (r.data && typeof r.data.detail === 'string') return r.data.detail;
    return 'The API answered ' + r.status + '.';
  }

  function unreachable() {
    return 'Could not reach the API at ' + API + '. ' +
      (API_ORIGIN === location.origin
        ? 'Check that it is running.'
        : 'It must be running and list this page\u2019s origin (' +
          location.origin + ') in ImagesCORSOrigins.');
  }

  function basicHeader(user, password) {
    // btoa takes bytes: encode user:password as UTF-8 first
    var bytes = new TextEncoder().encode(user + ':' + password);
    var bin = '';
    bytes.forEach(function (b) { bin += String.fromCharCode(b); });
    return 'Basic ' + btoa(bin);
  }

  // ---- status messages ----------------------------------------------------

  function say(node, text, kind) {
    node.textContent = text || '';
    node.className = node.className.replace(/\s*is-(error|ok|warn)\b/g, '') +
                     (kind ? ' is-' + kind : '');
  }
  function status(text, kind) { say($('status'), text, kind); }

  // ---- sign-in ------------------------------------------------------------

  function signIn(auth, form) {
    var out = $('sign-in-status');
    say(out, 'Checking…');
    call(API + '?page_size=1', { headers: { Authorization: auth.header } })
      .then(function (r) {
        if (r.status !== 200) {
          say(out, 'Sign-in failed: ' + detailOf(r), 'error');
          return;
        }
        state.auth = auth;
        form.reset();
        say(out, '');
        $('sign-in').open = false;
        showAccount();
        $('sign-out').focus();      // the sign-in form it was on is gone
        status('Signed in ' + auth.label + '.', 'ok');
        refreshAfterSignIn();
      }, function () { say(out, unreachable(), 'error'); });
  }

  function showAccount() {
    var a = state.auth;
    $('whoami').textContent = a ? 'Signed in ' + a.label + '.'
                                : 'Not signed in: you see public images only.';
    $('sign-out').hidden = !a;
    $('sign-in').hidden = !!a;
  }

  function refreshAfterSignIn() {
    loadList(firstPageUrl());
    if (!$('detail-view').hidden && state.image)
      loadDetail(String(state.image.id), { keepFocus: true });
    else if (!$('detail-view').hidden)
      route();
  }

  $('sign-in-basic').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var user = $('basic-username').value.trim();
    var password = $('basic-password').value;
    if (!user || !password) {
      say($('sign-in-status'), 'Enter both a username and a password.', 'error');
      (user ? $('basic-password') : $('basic-username')).focus();
      return;
    }
    signIn({ header: basicHeader(user, password), username: user,
             label: 'as ' + user }, this);
  });

  $('sign-in-token').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var key = $('token-key').value.trim();
    if (!key) {
      say($('sign-in-status'), 'Paste a token first.', 'error');
      $('token-key').focus();
      return;
    }
    // the API does not say whose token it is: the page cannot tell
    signIn({ header: 'Token ' + key, username: null, label: 'with a token' }, this);
  });

  $('sign-out').addEventListener('click', function () {
    state.auth = null;
    showAccount();
    status('Signed out.', 'ok');
    $('sign-in').querySelector('summary').focus();
    refreshAfterSignIn();
  });

  // ---- the list -----------------------------------------------------------

  function firstPageUrl() {
    var url = new URL(API);
    var f = $('filters');
    ['search', 'created_by__username', 'tags__name'].forEach(function (k) {
      var v = f.elements[k].value.trim();
      if (v) url.searchParams.set(k, v);
    });
    url.searchParams.set('page_size', f.elements.page_size.value);
    return url.href;
  }

  function loadList(url, opts) {
    opts = opts || {};
    var seq = ++state.listSeq;
    $('list-view').setAttribute('aria-busy', 'true');
    return call(url).then(function (r) {
      if (seq !== state.listSeq) return;
      $('list-view').removeAttribute('aria-busy');
      if (r.status === 200 && r.data && Array.isArray(r.data.results)) {
        state.listUrl = url;
        state.list = r.data;
        renderList(opts.focus);
      }
      else if (r.status === 404 && url !== firstPageUrl() && opts.retry !== false) {
        // the page went away (fewer images now): start again from page 1
        loadList(firstPageUrl(), { retry: false, focus: opts.focus });
      }
      else {
        showListProblem(r.status === 401
          ? 'The API refused your sign-in: ' + detailOf(r) + ' Sign out and sign in again.'
          : 'The list could not be loaded: ' + detailOf(r));
      }
    }, function () {
      if (seq !== state.listSeq) return;
      $('list-view').removeAttribute('aria-busy');
      showListProblem(unreachable());
    });
  }

  function showListProblem(text) {
    state.list = null;
    clear($('results'));
    $('count').textContent = '';
    $('page-info').textContent = '';
    $('prev-page').disabled = $('next-page').disabled = true;
    $('pager').hidden = true;
    status(text, 'error');
  }

  function pageNumbers(url, list) {
    var u = new URL(url);
    var size = parseInt(u.searchParams.get('page_size'), 10);
    if (!(size > 0)) return null;
    var last = Math.max(1, Math.ceil(list.count / size));
    var p = u.searchParams.get('page');
    var page = !p ? 1 : p === 'last' ? last : parseInt(p, 10);
    return page > 0 ? { page: page, last: last } : null;
  }

  function renderList(focusWhat) {
    var list = state.list;
    var ol = $('results');
    clear(ol);
    list.results.forEach(function (img) { ol.appendChild(resultItem(img)); });

    var n = list.count;
    $('count').textContent = n === 0 ? 'No images match.'
                           : n === 1 ? '1 image' : n + ' images';
    var pages = pageNumbers(state.listUrl, list);
    $('page-info').textContent = pages && n > 0
      ? 'Page ' + pages.page + ' of ' + pages.last : '';
    $('prev-page').disabled = !list.previous;
    $('next-page').disabled = !list.next;
    $('pager').hidden = !list.previous && !list.next;   // one page only
    if (/^Could not reach|^The list could not|^The API refused/.test($('status').textContent))
      status('');
    updateSuggestions(list.results);

    var active = document.activeElement;
    if (focusWhat === 'heading' || (active && active.disabled))
      $('list-heading').focus();
  }

  function resultItem(img) {
    var creator = img.created_by ? img.created_by.username : '';
    var tags = el('ul', { className: 'tag-list', 'aria-label': 'Tags' });
    (img.tags || []).forEach(function (t) {
      tags.appendChild(el('li', null, el('button', {
        type: 'button', className: 'tag', text: t.name,
        title: t.description || '', 'data-tag': t.name,
        'aria-label': 'Show images tagged ' + t.name
      })));
    });
    return el('li', { className: 'card', 'data-id': String(img.id) },
      el('h3', { className: 'card-title' },
         el('a', { href: '#/images/' + img.id, text: img.name })),
      el('p', { className: 'meta' },
         'by ',
         el('button', { type: 'button', className: 'linkish', text: creator,
                        'data-creator': creator,
                        'aria-label': 'Show images by ' + creator }),
         ' · since ', timeEl(img.start_date),
         img.is_public ? null : el('span', { className: 'badge', text: 'Private' })),
      img.description ? el('p', { className: 'card-description', text: img.description })
                      : null,
      (img.tags || []).length ? tags : null);
  }

  function updateSuggestions(results) {
    results.forEach(function (img) {
      if (img.created_by) state.creators.add(img.created_by.username);
      (img.tags || []).forEach(function (t) { state.tags.add(t.name); });
    });
    [['creator-list', state.creators], ['tag-list', state.tags]].forEach(function (p) {
      var dl = $(p[0]);
      clear(dl);
      Array.from(p[1]).sort().forEach(function (v) { dl.appendChild(el('option', { value: v })); });
    });
  }

  $('filters').addEventListener('submit', function (ev) {
    ev.preventDefault();
    loadList(firstPageUrl());
  });
  $('filters').addEventListener('reset', function () {
    // after the browser has reset the fields
    setTimeout(function () { loadList(firstPageUrl()); }, 0);
  });
  $('page-size').addEventListener('change', function () { loadList(firstPageUrl()); });

  // the links come from the API and are followed as they are
  $('next-page').addEventListener('click', function () {
    if (state.list && state.list.next) loadList(state.list.next);
  });
  $('prev-page').addEventListener('click', function () {
    if (state.list && state.list.previous) loadList(state.list.previous);
  });

  // a tag or creator in a result filters by it
  $('results').addEventListener('click', function (ev) {
    var b = ev.target.closest('button');
    if (!b) return;
    if (b.hasAttribute('data-tag')) $('tag').value = b.getAttribute('data-tag');
    else if (b.hasAttribute('data-creator')) $('creator').value = b.getAttribute('data-creator');
    else return;
    loadList(firstPageUrl(), { focus: 'heading' });
  });

  // ---- one image ----------------------------------------------------------

  function loadDetail(id, opts) {
    opts = opts || {};
    var seq = ++state.detailSeq;
    $('detail-view').setAttribute('aria-busy', 'true');
    return call(API + '/' + encodeURIComponent(id)).then(function (r) {
      if (seq !== state.detailSeq) return;
      $('detail-view').removeAttribute('aria-busy');
      if (r.status === 200 && r.data) {
        state.image = r.data;
        state.etag = r.etag;
        renderDetail(true);
        if (!opts.keepFocus) $('detail-heading').focus();
        if (opts.after) opts.after();
      }
      else {
        state.image = state.etag = null;
        renderMissing(r.status === 404
          ? 'Not found: this image does not exist, has ended, or is not visible to '
            + (state.auth ? 'you.' : 'visitors who are not signed in.')
          : 'The image could not be loaded: ' + detailOf(r));
      }
    }, function () {
      if (seq !== state.detailSeq) return;
      $('detail-view').removeAttribute('aria-busy');
      renderMissing(unreachable());
    });
  }

  function renderMissing(text) {
    $('detail-heading').textContent = 'Image not available';
    $('detail-heading').focus();
    document.querySelector('.detail-grid').hidden = true;
    status(text, 'error');
  }

  // fillForm: put the loaded values into the edit form (else keep the
  // user's input, e.g. after a failed save)
  function renderDetail(fillForm) {
    var img = state.image;
    document.querySelector('.detail-grid').hidden = false;
    $('detail-heading').textContent = img.name;
    document.title = img.name + ' · Image catalogue';
    $('detail-description').textContent = img.description || 'No description.';
    $('detail-creator').textContent = img.created_by ? img.created_by.username : '';
    $('detail-visibility').textContent = img.is_public
      ? 'Public' : 'Private: its creator and those it is shared with';
    clear($('detail-start')).appendChild(timeEl(img.start_date));
    var end = $('detail-end');
    clear(end);
    if (img.end_date) end.appendChild(timeEl(img.end_date));
    else end.textContent = 'No end date';
    $('detail-uuid').textContent = img.uuid;

    var tags = $('detail-tags');
    clear(tags);
    (img.tags || []).forEach(function (t) {
      tags.appendChild(el('li', null,
        el('span', { className: 'tag tag-static', text: t.name }),
        t.description ? el('span', { className: 'tag-description', text: ' ' + t.description }) : null));
    });
    if (!tags.firstChild) tags.appendChild(el('li', { className: 'none', text: 'No tags.' }));

    var tbody = $('detail-versions').tBodies[0];
    clear(tbody);
    (img.versions || []).forEach(function (v) {
      tbody.appendChild(el('tr', null, el('td', { text: v.name }),
                           el('td', null, timeEl(v.start_date))));
    });
    if (!tbody.firstChild)
      tbody.appendChild(el('tr', null, el('td', { colSpan: 2, className: 'none', text: 'No versions.' })));

    renderEditArea(fillForm);
  }

  function renderEditArea(fillForm) {
    var img = state.image, a = state.auth;
    var creator = img.created_by ? img.created_by.username : '';
    var note = $('edit-note'), form = $('edit-form');
    if (!a) {
      note.textContent = 'Sign in as the creator (' + creator + ') to edit this image.';
      form.hidden = true;
    }
    else if (a.username !== null && a.username !== creator) {
      note.textContent = 'Only the creator can edit this image: it belongs to ' +
        creator + ', and you are signed in as ' + a.username + '.';
      form.hidden = true;
    }
    else {
      // the creator by name, or a token, which the API alone can place
      note.textContent = a.username === null
        ? 'Only the creator (' + creator + ') can save changes.' : '';
      form.hidden = false;
    }
    note.hidden = !note.textContent;
    if (fillForm) {
      $('edit-name').value = img.name;
      $('edit-description').value = img.description || '';
      $('edit-is-public').checked = !!img.is_public;
      $('edit-end-date').value = img.end_date || '';
      clearFieldErrors();
      $('edit-reload').hidden = true;
    }
  }

  function clearFieldErrors() {
    Object.keys(FIELDS).forEach(function (k) { setFieldError(k, null); });
  }

  function setFieldError(key, messages) {
    var input = $(FIELDS[key]);
    var err = $(FIELDS[key] + '-error');
    var hint = $(FIELDS[key] + '-hint');
    var described = hint ? [hint.id] : [];
    if (messages && messages.length) {
      err.textContent = messages.join(' ');
      err.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      described.push(err.id);
    }
    else {
      err.textContent = '';
      err.hidden = true;
      input.removeAttribute('aria-invalid');
    }
    if (described.length) input.setAttribute('aria-describedby', described.join(' '));
    else input.removeAttribute('aria-describedby');
  }

  function changes() {
    var img = state.image, out = {};
    var name = $('edit-name').value;
    var description = $('edit-description').value;
    var isPublic = $('edit-is-public').checked;
    var end = $('edit-end-date').value.trim();
    if (name !== img.name) out.name = name;
    if (description !== (img.description || '')) out.description = description;
    if (isPublic !== !!img.is_public) out.is_public = isPublic;
    if (end !== (img.end_date || '')) out.end_date = end === '' ? null : end;
    return out;
  }

  $('edit-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (state.saving || !state.image) return;
    var out = $('edit-status');
    var body = changes();
    clearFieldErrors();
    if (!Object.keys(body).length) {
      say(out, 'Nothing to save: no field has changed.', 'warn');
      return;
    }
    var headers = { 'Content-Type': 'application/json' };
    if (state.etag) headers['If-Match'] = state.etag;
    var id = state.image.id;
    state.saving = true;
    $('edit-form').setAttribute('aria-busy', 'true');
    say(out, 'Saving…');
    call(API + '/' + id, { method: 'PATCH', headers: headers, body: JSON.stringify(body) })
      .then(function (r) { saved(id, r); },
            function () { say(out, 'Not saved. ' + unreachable(), 'error'); })
      .then(function () {
        state.saving = false;
        $('edit-form').removeAttribute('aria-busy');
      });
  });

  function saved(id, r) {
    var out = $('edit-status');
    if (!state.image || state.image.id !== id) return;   // navigated away
    if (r.status === 200 && r.data) {
      state.image = r.data;
      state.etag = r.etag;
      renderDetail(true);
      replaceInList(r.data);
      var t = new Date().toTimeString().slice(0, 8);
      say(out, hasEnded(r.data.end_date)
        ? 'Saved at ' + t + '. The image has ended: it is hidden from everyone now.'
        : 'Saved at ' + t + '.', 'ok');
      return;
    }
    if (r.status === 400 && r.data && typeof r.data.detail !== 'string') {
      var other = [], first = null;
      Object.keys(r.data).forEach(function (k) {
        var msgs = [].concat(r.data[k]).map(String);
        if (FIELDS[k]) {
          setFieldError(k, msgs);
          first = first || $(FIELDS[k]);
        }
        else other.push((k === 'non_field_errors' ? '' : k + ': ') + msgs.join(' '));
      });
      say(out, 'Not saved: ' + (other.length ? other.join(' ')
                                             : 'see the messages next to the fields.'), 'error');
      if (first) first.focus();
      return;
    }
    var text = {
      401: 'Not saved: the API refused your sign-in (' + detailOf(r) + '). Sign in again.',
      403: 'Not saved: only the creator can edit this image.',
      404: 'Not saved: this image no longer exists or is no longer visible to you.',
      412: 'Not saved: this image has changed since you loaded it (in another tab, ' +
           'or by someone else). Load the current version, then make your change again.'
    }[r.status] || 'Not saved: ' + detailOf(r);
    say(out, text, 'error');
    if (r.status === 412) $('edit-reload').hidden = false;
  }

  function replaceInList(img) {
    if (!state.list) return;
    state.list.results = state.list.results.map(function (x) {
      return x.id === img.id ? img : x;
    }).filter(function (x) { return !hasEnded(x.end_date); });
    renderList();
  }

  $('edit-undo').addEventListener('click', function () {
    if (!state.image) return;
    renderEditArea(true);
    say($('edit-status'), 'Your changes were undone.', 'ok');
    $('edit-name').focus();
  });

  $('edit-reload').addEventListener('click', function () {
    if (!state.image) return;
    loadDetail(String(state.image.id), { keepFocus: true, after: function () {
      say($('edit-status'), 'Loaded the current version.', 'ok');
      $('edit-name').focus();
    } });
  });

  // ---- views: #/ is the list, #/images/{id} one image ---------------------

  function route() {
    var h = location.hash;
    var m = /^#\/images\/([0-9A-Za-z-]+)$/.exec(h);
    if (m) {
      $('list-view').hidden = true;
      $('detail-view').hidden = false;
      say($('edit-status'), '');
      if (/^(Not found|The image could not)/.test($('status').textContent)) status('');
      state.lastOpened = m[1];
      loadDetail(m[1]);
    }
    else if (h === '' || h === '#' || h === '#/') {
      var wasDetail = !$('detail-view').hidden;
      $('detail-view').hidden = true;
      $('list-view').hidden = false;
      state.detailSeq++;
      state.image = state.etag = null;
      document.title = 'Image catalogue';
      if (/^(Not found|The image could not)/.test($('status').textContent)) status('');
      if (wasDetail) {
        var link = state.lastOpened &&
          $('results').querySelector('[data-id="' + CSS.escape(state.lastOpened) + '"] a');
        (link || $('list-heading')).focus();
      }
    }
    // other fragments (#main from the skip link) leave the view alone
  }

  window.addEventListener('hashchange', route);
  document.querySelector('.skip-link').addEventListener('click', function (ev) {
    ev.preventDefault();
    var target = $('detail-view').hidden ? $('list-heading') : $('detail-heading');
    target.focus();
  });

  showAccount();
  loadList(firstPageUrl());
  route();
})();
