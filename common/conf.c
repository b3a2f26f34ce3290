/* common/conf.c: TEMPORARY until the config loader lands. */
#include "common/conf.h"
