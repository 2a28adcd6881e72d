<?php
// An AppLink app in PHP with its standard library only, served by PHP's built-in server, reading
// the request as a Symfony or Laravel app would.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh php -S 127.0.0.1:3000 index.php
// (the port as a number: $APP_PORT set on the same line would expand to nothing).
// Every route but /healthcheck and /slow answers with what this runtime read: method, client
// context, AppLink headers and query.

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

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
say("request $path");
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
], JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR);
answer(200, 'application/json', $body);
