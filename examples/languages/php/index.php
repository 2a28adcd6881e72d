<?php
// An AppLink app in PHP with its standard library only, served by PHP's built-in server.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh php -S 127.0.0.1:3000 index.php
// (the port as a number: $APP_PORT set on the same line would expand to nothing).

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
// getallheaders() keeps the names as sent, and a PHP array is case-sensitive: this finds the
// header only when it arrives as X-Client-Context, as the official mesh sends it.
$headers = getallheaders();
$encoded = $headers['X-Client-Context'] ?? null;
if ($encoded === null) {
    answer(401, 'text/plain', 'no client context');
    return;
}
$raw = base64_decode($encoded, true);
$context = $raw === false ? null : json_decode($raw, true);
if (!is_array($context)) {
    answer(400, 'text/plain', 'bad client context');
    return;
}
answer(200, 'application/json', json_encode([
    'language' => 'php',
    'orgId' => $context['orgId'],
    'userId' => $context['userContext']['userId'],
    'requestId' => $headers['X-Request-Id'] ?? null,
    'version' => $context['version'] ?? null,
]));
