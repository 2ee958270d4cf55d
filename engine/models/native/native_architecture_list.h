// The registry of native architectures: one X(<name>) line each, where
// engine/models/native/<name>/ defines <name>_architecture() (torch-free)
// and <name>_forecaster() (LibTorch). native_architectures.cpp and
// native_forecasters.cpp expand this list; lookups go by
// NativeArchitecture::name(), config.json's architectures[0].
#pragma once

#define CRUCIBLE_NATIVE_ARCHITECTURES(X) X(chronos_bolt) X(chronos2)
