#!/usr/bin/python3
"""A client that knows nothing of Plexus: pika (python3-pika) speaking CloudEvents over AMQP.

  foreign_client.py publish-structured URL EXCHANGE ROUTING_KEY JSON_EVENT
      publishes one structured-mode CloudEvent (content type application/cloudevents+json)
  foreign_client.py consume URL QUEUE COUNT TIMEOUT_S
      prints COUNT messages of QUEUE as JSON lines {properties, headers, body}, acks them;
      exit 1 when they do not arrive in time
"""
import json
import sys
import time

import pika


def connect(url):
    return pika.BlockingConnection(pika.URLParameters(url))


def publish_structured(url, exchange, key, event):
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    doc = json.loads(event)
    ch.basic_publish(exchange, key, json.dumps(doc).encode(),
                     properties=pika.BasicProperties(
                         content_type='application/cloudevents+json; charset=utf-8',
                         delivery_mode=2,
                         headers={'x-stream': doc.get('subject', '')}))
    conn.close()


def consume(url, queue, count, timeout):
    conn = connect(url)
    ch = conn.channel()
    got = 0
    deadline = time.monotonic() + timeout
    while got < count and time.monotonic() < deadline:
        method, props, body = ch.basic_get(queue)
        if method is None:
            conn.sleep(0.05)  # polling a bounded queue
            continue
        headers = {k: (v.decode() if isinstance(v, bytes) else v)
                   for k, v in (props.headers or {}).items()}
        print(json.dumps({'properties': {'message_id': props.message_id, 'type': props.type,
                                         'app_id': props.app_id,
                                         'content_type': props.content_type,
                                         'correlation_id': props.correlation_id,
                                         'timestamp': props.timestamp,
                                         'delivery_mode': props.delivery_mode},
                          'headers': headers, 'body': body.decode()}), flush=True)
        ch.basic_ack(method.delivery_tag)
        got += 1
    conn.close()
    return 0 if got == count else 1


def main(argv):
    if len(argv) == 6 and argv[1] == 'consume':
        return consume(argv[2], argv[3], int(argv[4]), float(argv[5]))
    if len(argv) == 6 and argv[1] == 'publish-structured':
        publish_structured(argv[2], argv[3], argv[4], argv[5])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
