// libyaml 0.2 (Debian's libyaml-dev): the YAML 1.1 parser behind vidar serve's configuration.
#include <yaml.h>
