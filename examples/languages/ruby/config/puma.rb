# Puma as Heroku's Ruby guides set it up: the port from $PORT, a few threads.
port ENV.fetch("PORT", 3000), "127.0.0.1"
threads 1, 4
