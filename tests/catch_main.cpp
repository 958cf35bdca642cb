#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <iostream>

#include "skip.h"

namespace {

// Prints the skip marker of tests/skip.h when a test case that called cf::test::skip ends with
// no failed assertion.
struct SkipListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo&) override { cf::test::skip_reasons().clear(); }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    std::string& reasons = cf::test::skip_reasons();
    if (!reasons.empty() && stats.totals.assertions.failed == 0)
      std::cout << "CELLFORGE_SKIP: " << reasons << std::endl;
    reasons.clear();
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(SkipListener)
