<?php
// An AppLink app in PHP with its standard library only, served by PHP's built-in server, reading
// the request as a Symfony or Laravel app would.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh php -S 127.0.0.1:3000 index.php
// (the port as a number: $APP_PORT set on the same line would expand to nothing).
// Every route but /healthcheck and /slow answers with what this runtime read: method, client
// context, AppLink headers and query.
// With $HEROKU_APPLINK_MESH_ASSERTION_KEY set, every route first verifies the sidecar's signed
// X-Applink-Assertion (a JWT, HS256) and answers 403 without a valid one.

function say(string $line): void
{
    file_put_contents('php://stdout', "app: $line\n");
}

function answer(int $status, string $type, string $body): void
{
    http_response_code($status);
    header("Content-Type: $type");
    echo $body;
}

// Strict base64_decode, then json_decode into arrays: ['orgId', 'userId', 'version'(, 'error')].
function client_context(?string $encoded): array
{
    $read = ['orgId' => null, 'userId' => null, 'version' => null];
    if ($encoded === null) {
        return $read;
    }
    $raw = base64_decode($encoded, true);
    if ($raw === false) {
        return $read + ['error' => 'base64_decode failed'];
    }
    $context = json_decode($raw, true);
    if (json_last_error() !== JSON_ERROR_NONE) {
        return $read + ['error' => 'json_decode: ' . json_last_error_msg()];
    }
    // Keys read with ?? as apps do: a missing key (or a non-array) gives null.
    return [
        'orgId' => $context['orgId'] ?? null,
        'userId' => $context['userContext']['userId'] ?? null,
        'version' => $context['version'] ?? null,
    ];
}

// Symfony's Request::getMethod() (Laravel's too): on POST, X-HTTP-Method-Override, else the
// body's _method, else the query's; upper-cased; a non-string (an array) is ignored, and so is a
// value other than letters (Symfony refuses it as a SuspiciousOperationException).
function method(): string
{
    $real = $_SERVER['REQUEST_METHOD'];
    if (strtoupper($real) !== 'POST') {
        return strtoupper($real);
    }
    $override = $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'] ?? null;
    if (!$override) {
        $override = $_POST['_method'] ?? $_GET['_method'] ?? 'POST';
    }
    return is_string($override) && preg_match('/^[A-Z]++$/D', strtoupper($override)) ? strtoupper($override) : 'POST';
}

// The sidecar's X-Applink-Assertion, a JWT signed HS256 with the key: its claims (an object) when
// it is valid for this request, else the reason to refuse it (a string).
function verify_assertion(string $key): stdClass|string
{
    $token = $_SERVER['HTTP_X_APPLINK_ASSERTION'] ?? null;
    if ($token === null) {
        return 'missing';
    }
    // Three base64url parts (- and _ for base64's + and /, no padding; a length of 4n+1 never is).
    $parts = explode('.', $token);
    $base64url = fn (string $part): bool
        => preg_match('/^[A-Za-z0-9_-]*$/D', $part) && strlen($part) % 4 !== 1;
    if (count($parts) !== 3 || count(array_filter($parts, $base64url)) !== 3) {
        return 'malformed';
    }
    [$head, $body, $signature] = $parts;
    // json_decode without its array flag: a JSON object is a stdClass, an array is not.
    $header = json_decode(base64_decode(strtr($head, '-_', '+/')));
    $claims = json_decode(base64_decode(strtr($body, '-_', '+/')));
    if (!$header instanceof stdClass || !$claims instanceof stdClass) {
        return 'malformed';
    }
    if (($header->alg ?? null) !== 'HS256') {
        return 'algorithm';
    }
    $mac = hash_hmac('sha256', "$head.$body", $key, true);
    if (!hash_equals(rtrim(strtr(base64_encode($mac), '+/', '-_'), '='), $signature)) {
        return 'signature';
    }
    if (($claims->iss ?? null) !== 'heroku-applink-service-mesh') {
        return 'issuer';
    }
    $exp = $claims->exp ?? null;
    if (!(is_int($exp) || is_float($exp)) || $exp <= time()) {
        return 'expired';
    }
    // The request line's method, before any override, and its path as sent, without the query.
    if (($claims->method ?? null) !== $_SERVER['REQUEST_METHOD']) {
        return 'method';
    }
    if (($claims->path ?? null) !== explode('?', $_SERVER['REQUEST_URI'], 2)[0]) {
        return 'path';
    }
    return $claims;
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
say("request $path");
// The sidecar's key for its assertions, used as it is (its UTF-8 bytes, never base64-decoded):
// when it is set, every route verifies the assertion before anything else.
$key = (string) getenv('HEROKU_APPLINK_MESH_ASSERTION_KEY');
$claims = null;
if ($key !== '') {
    $claims = verify_assertion($key);
    if (is_string($claims)) {
        answer(403, 'text/plain', "assertion refused: $claims");
        return;
    }
}
if ($path === '/healthcheck') {
    answer(200, 'text/plain', 'ok');
    return;
}
if ($path === '/slow') {
    usleep((int) ($_GET['ms'] ?? 1000) * 1000);
    answer(200, 'text/plain', 'slow ok');
    return;
}
// $_SERVER names a header HTTP_ + upper case, with "-" (and ".", " ") folded to "_".
$primary = client_context($_SERVER['HTTP_X_CLIENT_CONTEXT'] ?? null);
// getallheaders() keeps the names as sent, and a PHP array is case-sensitive: this finds the
// header only when it arrives as X-Client-Context, as the official mesh sends it.
$headers = getallheaders();
$second = client_context($headers['X-Client-Context'] ?? null);
$version = $primary['version'];
unset($primary['version'], $second['version']);
$body = json_encode([
    'language' => 'php',
    'method' => method(),
    'requestId' => $_SERVER['HTTP_X_REQUEST_ID'] ?? null,
    'orgId' => $primary['orgId'],
    'userId' => $primary['userId'],
    'version' => $version,
    'readings' => [
        ['via' => '$_SERVER[\'HTTP_X_CLIENT_CONTEXT\']'] + $primary,
        ['via' => 'getallheaders()[\'X-Client-Context\']'] + $second,
        // The sidecar's decoded context headers, both ways.
        [
            'via' => '$_SERVER[\'HTTP_X_APPLINK_ORG_ID\']',
            'orgId' => $_SERVER['HTTP_X_APPLINK_ORG_ID'] ?? null,
            'userId' => $_SERVER['HTTP_X_APPLINK_USER_ID'] ?? null,
        ],
        [
            'via' => 'getallheaders()[\'X-Applink-Org-Id\']',
            'orgId' => $headers['X-Applink-Org-Id'] ?? null,
            'userId' => $headers['X-Applink-User-Id'] ?? null,
        ],
    ],
    // $_GET: the last value wins, and orgId[]= makes an array.
    'query' => ['orgId' => $_GET['orgId'] ?? null, 'apiName' => $_GET['apiName'] ?? null],
    // What the sidecar asserted: null when the app does not verify assertions.
    'assertion' => $claims === null ? null : [
        'kind' => $claims->kind ?? null,
        'orgId' => $claims->orgId ?? null,
        'userId' => $claims->userId ?? null,
        'jti' => $claims->jti ?? null,
    ],
], JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR);
answer(200, 'application/json', $body);
