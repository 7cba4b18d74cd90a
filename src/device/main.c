#include "device/device.h"

int main(int argc, char **argv)
{
	return dev_main(argc, argv);
}
