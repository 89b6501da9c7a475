// Eclipse Mosquitto's client library 2.0 (Debian's libmosquitto-dev): MQTT event delivery.
#include <stdbool.h>
#include <mosquitto.h>
